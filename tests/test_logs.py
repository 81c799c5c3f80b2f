"""The JSON log formatter (python-json-logger): one clean JSON object a line."""

from __future__ import annotations

import io
import json
import logging

import pytest

from sessionhub.logs import JsonFormatter, request_id


@pytest.fixture
def logged() -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("sessionhub.test-logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, out


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_no_ansi_colour_codes_reach_json_lines(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = logged
    # what uvicorn logs at start: a coloured copy of its message as an extra
    logger.info(
        "Uvicorn running on %s (Press CTRL+C to quit)",
        "http://127.0.0.1:8000",
        extra={"color_message": "Uvicorn running on \x1b[1m%s\x1b[0m", "workers": 2},
    )
    logger.info("\x1b[32mgreen\x1b[0m and \x1b[1;31mbold red\x1b[0m")
    assert "\x1b" not in out.getvalue()
    first, second = lines(out)
    assert first["message"] == "Uvicorn running on http://127.0.0.1:8000 (Press CTRL+C to quit)"
    assert "color_message" not in first and first["workers"] == 2
    assert second["message"] == "green and bold red"


def test_fields_level_logger_time_request_id_and_exception(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = logged
    token = request_id.set("rid-7")
    try:
        try:
            raise ValueError("broken")
        except ValueError:
            logger.exception("failed %d", 3)
    finally:
        request_id.reset(token)
    logger.warning("outside a request")
    inside, outside = lines(out)
    assert inside["level"] == "error" and inside["logger"] == "sessionhub.test-logs"
    assert inside["message"] == "failed 3" and inside["request_id"] == "rid-7"
    assert "ValueError: broken" in str(inside["exc"])
    assert str(inside["time"]).endswith("+00:00")
    assert outside["request_id"] == "-" and outside["level"] == "warning"
