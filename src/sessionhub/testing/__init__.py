"""Helpers for testing sessionhub and its plugins (drivers, stores)."""
