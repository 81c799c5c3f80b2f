"""The system prompt: the base prompt, then the session's promptMode."""

from __future__ import annotations

import re

from sessionhub.domain.attributes.agent import AgentAttributes

BASE = (
    "You are an agent working in a session directory (your current working directory). "
    "Use the tools to inspect and change files and to run commands; answer concisely."
)
VARIABLE = re.compile(r"\$<([A-Za-z_][A-Za-z0-9_]*)>")


def substitute(text: str, variables: dict[str, str]) -> str:
    """``$<name>`` becomes the configured value; unknown names stay as written."""
    return VARIABLE.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


def system_prompt(attributes: AgentAttributes, variables: dict[str, str]) -> str:
    mode = attributes.prompt_mode
    custom = substitute(attributes.custom_system_prompt, variables)
    if mode == "replace" and custom:
        return custom
    if mode == "append" and custom:
        return f"{BASE}\n\n{custom}"
    return BASE
