"""What every kind's attributes model shares: typed reads, checked input, partial writes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from sessionhub.domain.errors import Invalid
from sessionhub.domain.models import Session


class KindAttributes(BaseModel):
    """A kind's view of a session's ``attributes`` (JSON in the store).

    Keys the model does not know are kept, so a client's own keys survive.
    """

    model_config = ConfigDict(extra="allow")

    @classmethod
    def of(cls, session: Session) -> Self:
        return cls.parse(session.attributes)

    @classmethod
    def parse(cls, attributes: Mapping[str, Any]) -> Self:
        """The typed view of ``attributes``; a bad value is the client's error (400)."""
        try:
            return cls.model_validate(attributes)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise Invalid(f"attributes.{where}: {first['msg']}") from None

    def stored(self) -> dict[str, Any]:
        """The fields set on this instance, as JSON, to merge into the stored attributes."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)
