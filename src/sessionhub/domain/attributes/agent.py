"""An ``agent`` session's attributes: Mix's session fields, typed.

Stored under Mix's own (camelCase) keys, since the Mix dialect returns them as
they are; read with ``AgentAttributes.of(session)`` and written with
``.stored()``. Keys this model does not know are kept as they are.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from sessionhub.domain.attributes.base import KindAttributes
from sessionhub.domain.models import Session

CallbackType = Literal["bash_script", "sub_agent", "send_message"]
DEFAULT_BROWSER_MODE = "local-browser-service"
DEFAULT_BASH_TIMEOUT_MS = 120_000


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def stored(self) -> dict[str, Any]:
        """The JSON to keep in the session's attributes: Mix's keys, and only the fields
        that were given (a partial model is a partial update; ``None`` is left out)."""
        return self.model_dump(by_alias=True, exclude_unset=True, exclude_none=True)


class AgentCallback(_Camel):
    """A callback run after each completion of the tool ``tool_name`` (``*``: any tool)."""

    tool_name: str
    type: CallbackType
    bash_timeout: int = DEFAULT_BASH_TIMEOUT_MS
    exclude_from_context: bool = False
    include_full_history: bool = False
    sub_agent_type: str = "general-purpose"
    bash_command: str | None = None
    sub_agent_prompt: str | None = None
    message_content: str | None = None
    name: str | None = None


class AgentAttributes(KindAttributes):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    browser_mode: str = DEFAULT_BROWSER_MODE
    cdp_url: str | None = None
    prompt_mode: str = "default"
    custom_system_prompt: str = ""
    session_type: Literal["main", "subagent"] = "main"
    subagent_type: str | None = None
    parent_tool_call_id: str | None = None
    callbacks: list[AgentCallback] = Field(default_factory=list)
    first_user_message: str | None = None
    todos: list[dict[str, Any]] = Field(default_factory=list)  # the model's own {id, content, …}

    @classmethod
    def of(cls, session: Session) -> AgentAttributes:
        """The session's attributes; a stored value of the wrong shape (written through
        another API) reads as unset rather than failing every read of the session."""
        try:
            return cls.model_validate(session.attributes)
        except ValidationError as exc:
            bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
            kept = {k: v for k, v in session.attributes.items() if k not in bad}
            return cls.model_validate(kept)

    def stored(self) -> dict[str, Any]:
        """Mix's keys, only the fields that were given; ``None`` is left out."""
        return self.model_dump(by_alias=True, exclude_unset=True, exclude_none=True)

    @property
    def is_subagent(self) -> bool:
        return self.session_type == "subagent"
