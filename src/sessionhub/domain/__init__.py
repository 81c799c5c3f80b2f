"""The ground floor: models, errors and typed attributes every layer and the SDK may import."""
