"""SQL for the generic session conditions, ordering and roll-ups (SQLite and PostgreSQL).

Every clause is bounded by the workspace and uses bound parameters only; attribute
keys are checked against ``KEY`` before they reach the SQL text.
"""

from __future__ import annotations

import re
from typing import Any

from sessionhub.domain.errors import Invalid
from sessionhub.domain.models import Condition, SessionQuery

KEY = re.compile(r"^[A-Za-z0-9_]{1,64}$")
COLUMNS = {"id", "name", "title"}


def _attribute_key(field: str) -> str:
    if not field.startswith("attributes."):
        raise Invalid(f"cannot filter on {field!r}: use id, name, title or attributes.<key>")
    key = field[len("attributes.") :]
    if not KEY.match(key):
        raise Invalid(f"attribute key {key!r} must match {KEY.pattern}")
    return key


def _scalar(dialect: str, field: str) -> str:
    if field in COLUMNS:
        return field
    key = _attribute_key(field)
    if dialect == "postgresql":
        return f"(attributes ->> '{key}')"
    return f"CAST(json_extract(attributes, '$.{key}') AS TEXT)"


def _like(value: str) -> str:
    escaped = value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _member(dialect: str, field: str, param: str) -> str:
    key = _attribute_key(field)
    if dialect == "postgresql":
        return (
            f"(jsonb_typeof(attributes -> '{key}') = 'array' "
            f"AND jsonb_exists(attributes -> '{key}', :{param}))"
        )
    return (
        f"EXISTS (SELECT 1 FROM json_each(attributes, '$.{key}') AS m "
        f"WHERE json_type(attributes, '$.{key}') = 'array' AND m.value = :{param})"
    )


def condition_sql(dialect: str, condition: Condition, index: int, params: dict[str, Any]) -> str:
    """One ``(… OR …)`` clause for a condition; adds its parameters."""
    parts: list[str] = []
    for f, field in enumerate(condition.fields):
        for v, value in enumerate(condition.values):
            param = f"w{index}_{f}_{v}"
            if condition.op == "eq":
                parts.append(f"{_scalar(dialect, field)} = :{param}")
                params[param] = value
            elif condition.op == "contains":
                parts.append(f"LOWER({_scalar(dialect, field)}) LIKE :{param} ESCAPE '\\'")
                params[param] = _like(value)
            else:
                parts.append(_member(dialect, field, param))
                params[param] = value
    return "(" + " OR ".join(parts) + ")"


def extra_filters(
    dialect: str, query: SessionQuery, where: list[str], params: dict[str, Any]
) -> None:
    if query.updated_after is not None:
        where.append("updated_at > :u_after")
        params["u_after"] = query.updated_after
    if query.updated_before is not None:
        where.append("updated_at < :u_before")
        params["u_before"] = query.updated_before
    for i, condition in enumerate(query.where):
        where.append(condition_sql(dialect, condition, i, params))


def order_sql(query: SessionQuery) -> str:
    direction = "DESC" if query.descending else "ASC"
    if query.cursor is not None and (query.order_by != "created_at" or not query.descending):
        raise Invalid("a cursor pages only the default order (newest first)")
    return f"ORDER BY {query.order_by} {direction}, id {direction}"


def distinct_values_sql(dialect: str, key: str) -> str:
    """Distinct strings of an array attribute over a workspace's sessions of one kind."""
    if not KEY.match(key):
        raise Invalid(f"attribute key {key!r} must match {KEY.pattern}")
    if dialect == "postgresql":
        return (
            f"SELECT DISTINCT v FROM sessions, jsonb_array_elements_text("
            f"CASE WHEN jsonb_typeof(attributes -> '{key}') = 'array' "
            f"THEN attributes -> '{key}' ELSE '[]'::jsonb END) AS v "
            "WHERE workspace_id = :ws AND kind = :kind ORDER BY v LIMIT :limit"
        )
    return (
        f"SELECT DISTINCT m.value AS v FROM sessions, json_each(sessions.attributes, '$.{key}') AS m "
        f"WHERE workspace_id = :ws AND kind = :kind AND json_type(sessions.attributes, '$.{key}') = 'array' "
        "ORDER BY v LIMIT :limit"
    )


def payload_rollup_sql(
    dialect: str, keys: list[str], ids: list[str], types: list[str]
) -> tuple[str, dict[str, Any]]:
    """Per session: sums of numeric payload keys and min/max of string keys, one query."""
    cols: list[str] = []
    for key in keys:
        if not KEY.match(key):
            raise Invalid(f"payload key {key!r} must match {KEY.pattern}")
        if dialect == "postgresql":
            num = f"(CASE WHEN jsonb_typeof(payload -> '{key}') = 'number' THEN (payload ->> '{key}')::float8 END)"
            txt = f"(payload ->> '{key}')"
        else:
            num = f"(CASE WHEN json_type(payload, '$.{key}') IN ('integer', 'real') THEN json_extract(payload, '$.{key}') END)"
            txt = f"CAST(json_extract(payload, '$.{key}') AS TEXT)"
        cols += [f"SUM({num}) AS sum_{key}", f"MIN({txt}) AS min_{key}", f"MAX({txt}) AS max_{key}"]
    params: dict[str, Any] = {f"s{i}": sid for i, sid in enumerate(ids)}
    params.update({f"t{i}": t for i, t in enumerate(types)})
    kinds = ", ".join(f":t{i}" for i in range(len(types)))
    placeholders = ", ".join(f":s{i}" for i in range(len(ids)))
    sql = (
        f"SELECT session_id, {', '.join(cols)} FROM events "
        f"WHERE session_id IN ({placeholders}) AND type IN ({kinds}) GROUP BY session_id"
    )
    return sql, params
