"""Each kind's session page: an agent's messages and tool calls (a real run through the
scripted fake provider), kernel cells with text, a traceback and an image, a trace's
spans as a waterfall, and a machine lease."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.ui.conftest import UiHub, sign_in

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
HOSTILE = (
    'Done: **wrote** it. <script>window.pwned = 1</script> <img src="x" onerror="window.pwned = 2">'
)
AGENT_SCRIPT = [
    {"content": "Let me write it.",
     "tools": [("Write", {"file_path": "out.txt", "content": "hello from the agent\n"})]},
    {"content": HOSTILE},
]  # fmt: skip


def wait_for(check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def session(http: httpx.Client, sid: str) -> dict[str, Any]:
    body: dict[str, Any] = http.get(f"/v1/sessions/{sid}").json()
    return body


@pytest.mark.parametrize("script", [AGENT_SCRIPT])
def test_agent_transcript_with_tool_calls_and_safe_markdown(page: Any, hub: UiHub) -> None:
    with hub.api() as http:
        sid = http.post("/v1/sessions", json={"kind": "agent", "title": "Writer"}).json()["id"]
        run = http.post(f"/v1/sessions/{sid}/runs", json={"input": {"text": "write *out.txt*"}})
        assert run.status_code == 202, run.text
        wait_for(lambda: session(http, sid)["status"] == "idle"
                 and session(http, sid)["totals"]["messages"] >= 3)  # fmt: skip
    sign_in(page, hub.key)
    page.get_by_role("link", name="Writer").click()
    events = page.locator("ol.events > li")
    expect(events.filter(has_text="user").first).to_contain_text("write out.txt")
    expect(page.locator(".md em", has_text="out.txt")).to_be_visible()  # markdown rendered
    call = events.filter(has_text="Tool call: Write")
    expect(call).to_contain_text('"file_path": "out.txt"')
    expect(call).to_contain_text("hello from the agent")
    expect(events.filter(has_text="Tool result: Write")).to_be_visible()
    reply = events.filter(has=page.locator("strong", has_text="wrote"))
    expect(reply).to_contain_text("Done:")
    assert page.evaluate("window.pwned") is None  # no script from the transcript ran
    assert reply.locator("script, img").count() == 0
    expect(page.get_by_role("cell", name="out.txt")).to_be_visible()  # the session's files


def execute(http: httpx.Client, sid: str, code: str) -> None:
    done = http.post(f"/v1/sessions/{sid}/execute", json={"code": code, "timeout": 60})
    assert done.status_code == 200, done.text


def test_kernel_cells_with_text_traceback_and_image(page: Any, hub: UiHub) -> None:
    with hub.api() as http:
        made = http.post("/v1/sessions", json={"kind": "kernel", "title": "Notebook"})
        sid = made.json()["id"]
        execute(http, sid, "print('hello from a cell')\n6 * 7")
        execute(http, sid, "1 / 0")
        execute(http, sid, "import base64\nfrom IPython.display import Image, display\n"
                           f"display(Image(data=base64.b64decode('{PNG}')))")  # fmt: skip
    sign_in(page, hub.key)
    page.goto(f"/ui/sessions/{sid}")
    cells = page.locator("ol.events > li.event-cell")
    expect(cells).to_have_count(3)
    expect(cells.nth(0).locator("pre.code")).to_contain_text("print('hello from a cell')")
    expect(cells.nth(0)).to_contain_text("hello from a cell")
    expect(cells.nth(0)).to_contain_text("42")
    expect(cells.nth(0).locator(".event-title")).to_have_text("In [1]")
    error = cells.nth(1).locator("pre.output-error")
    expect(error).to_contain_text("ZeroDivisionError")
    assert "\x1b[" not in error.inner_text()  # the traceback's colour codes are gone
    image = cells.nth(2).locator("img.output")
    expect(image).to_have_attribute("src", f"data:image/png;base64,{PNG}")
    assert image.evaluate("img => img.complete && img.naturalWidth") == 1


def kv(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "value": value}


def span(span_id: str, parent: str, name: str, start_ms: int, end_ms: int,
         **attrs: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    base = 1_900_000_000_000
    return {
        "traceId": "5b8efff798038103d269b633813fc60c", "spanId": span_id,
        "parentSpanId": parent, "name": name, "kind": 1,
        "startTimeUnixNano": str((base + start_ms) * 1_000_000),
        "endTimeUnixNano": str((base + end_ms) * 1_000_000),
        "attributes": [kv(k.replace("__", "."), v) for k, v in attrs.items()],
        "status": {"code": 1},
    }  # fmt: skip


def test_trace_spans_as_a_waterfall_with_tokens_and_cost(page: Any, hub: UiHub) -> None:
    spans = [
        span("aaaaaaaaaaaaaaa1", "", "agent run", 0, 1000),
        span("aaaaaaaaaaaaaaa2", "aaaaaaaaaaaaaaa1", "llm call", 100, 600,
             gen_ai__usage__input_tokens={"intValue": "120"},
             gen_ai__usage__output_tokens={"intValue": "30"},
             gen_ai__usage__cost={"doubleValue": 0.25}),
        span("aaaaaaaaaaaaaaa3", "aaaaaaaaaaaaaaa1", "tool: search", 600, 900),
    ]  # fmt: skip
    body = {"resourceSpans": [{"resource": {"attributes": [kv("session.id", {"stringValue": "ui-thread"})]},
                               "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]}]}  # fmt: skip
    with hub.api() as http:
        sent = http.post("/v1/traces", json=body)
        assert sent.status_code == 200 and "partialSuccess" not in sent.json(), sent.text
    sign_in(page, hub.key)
    page.get_by_label("Kind").select_option("trace")
    page.get_by_role("button", name="Apply").click()
    page.locator("table.sessions a").first.click()
    rows = page.locator("ol.spans > li")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("agent run")
    expect(rows.nth(0)).to_contain_text("1000 ms")
    llm = rows.nth(1)
    expect(llm).to_contain_text("llm call")
    expect(llm).to_contain_text("500 ms · 120→30 tokens · $0.2500")
    expect(llm).to_have_class("span depth-1 span-ok")
    bar = llm.locator("svg rect")
    assert (bar.get_attribute("x"), bar.get_attribute("width")) == ("100.0", "500.0")
    expect(rows.nth(2).locator("svg")).to_have_attribute(
        "aria-label", "starts at 600 ms, lasts 300 ms"
    )
    expect(page.locator(".state")).to_contain_text("cost $0.2500")


def test_machine_lease_with_url_gpu_timeout_and_cost(page: Any, hub: UiHub) -> None:
    with hub.api() as http:
        spec = {"kind": "machine", "title": "GPU box", "attributes": {"machine_id": "tiny"}}
        sid = http.post("/v1/sessions", json=spec).json()["id"]
        assert http.post(f"/v1/sessions/{sid}/runs", json={"input": {}}).status_code == 202
        url = wait_for(lambda: session(http, sid)["attributes"].get("url"))
    sign_in(page, hub.key)
    page.goto(f"/ui/sessions/{sid}")
    lease = page.locator("section.lease")
    expect(lease.get_by_role("link", name=url)).to_have_attribute("href", url)
    for shown in ("T4", "Times out", "Price per hour", "1.5", "ready"):
        expect(lease).to_contain_text(shown)
    expect(page.locator("ol.events")).to_contain_text("gpu.start")
    page.get_by_role("button", name="Cancel run").click()  # ends the lease
    expect(lease.locator("dd").filter(has_text="ended")).to_be_visible(timeout=20_000)
    expect(lease).to_contain_text("Cost")
    expect(page.locator("ol.events")).to_contain_text("gpu.end")
