"""The session page live and its buttons: a new event appears without a reload (and a
reconnect resumes without duplicates), fork, rewind, export, cancel, delete."""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.kinds.agent.conftest import TRANSCRIPT
from tests.ui.conftest import UiHub, sign_in
from tests.ui.test_transcripts import session, wait_for


def agent_session(http: httpx.Client, title: str = "Chat") -> str:
    sid: str = http.post("/v1/sessions", json={"kind": "agent", "title": title}).json()["id"]
    added = http.post(f"/v1/sessions/{sid}/events/batch", json={"events": TRANSCRIPT})
    assert added.status_code == 201, added.text
    return sid


def note(http: httpx.Client, sid: str, text: str) -> None:
    added = http.post(
        f"/v1/sessions/{sid}/events", json={"type": "note", "payload": {"content": text}}
    )
    assert added.status_code == 201, added.text


def test_a_new_event_appears_live_and_a_reconnect_adds_no_duplicates(page: Any, hub: UiHub) -> None:
    with hub.api() as http:
        sid = http.post("/v1/sessions", json={"kind": "generic", "title": "Live"}).json()["id"]
        note(http, sid, "first note")
        sign_in(page, hub.key)
        page.goto(f"/ui/sessions/{sid}")
        page.evaluate("window.marker = 'no reload'")
        events = page.locator("ol.events > li")
        expect(events).to_have_count(1)
        page.get_by_role("button", name="Fork at event 1").focus()
        note(http, sid, "a **live** note")
        expect(page.locator(".md strong", has_text="live")).to_be_visible()
        expect(page.locator("#live-status")).to_have_text("New event #2: note")
        expect(page.get_by_role("button", name="Fork at event 1")).to_be_focused()
        expect(events).to_have_count(2)
        expect(page.locator(".state")).to_contain_text("2 events")
        assert page.evaluate("window.marker") == "no reload"
        # The stream's ids are seqs: a reconnect sends Last-Event-ID and gets only later ones.
        cookies, resume = {"sessionhub_ui": hub.key}, {"Last-Event-ID": "1"}
        with (
            httpx.Client(base_url=hub.url, cookies=cookies, timeout=10) as browser_like,
            browser_like.stream("GET", f"/ui/sessions/{sid}/live", headers=resume) as stream,
        ):
            first = next(line for line in stream.iter_lines() if line.startswith("id:"))
            assert first == "id: 2"
        note(http, sid, "third note")
        expect(events).to_have_count(3)
        expect(events.nth(2)).to_contain_text("third note")
        assert page.evaluate("window.marker") == "no reload"


def test_fork_at_the_end_and_at_an_event(page: Any, hub: UiHub) -> None:
    with hub.api() as http:
        sid = agent_session(http)
    sign_in(page, hub.key)
    page.goto(f"/ui/sessions/{sid}")
    page.locator(".actions").get_by_role("button", name="Fork").click()
    expect(page.get_by_role("status")).to_have_text("Forked")
    assert sid not in page.url
    expect(page.locator("ol.events > li")).to_have_count(len(TRANSCRIPT))
    lineage = page.locator("section", has=page.get_by_role("heading", name="Lineage"))
    lineage.get_by_role("link", name="Chat").click()
    page.get_by_role("button", name="Fork at event 2").click()
    expect(page.locator("ol.events > li")).to_have_count(2)
    expect(page.get_by_text("Forked from:")).to_contain_text("Chat")
    page.go_back()
    page.reload()
    forks = page.locator("li", has_text="Forks:").get_by_role("link")
    expect(forks).to_have_count(2)


def test_rewind_after_confirming(page: Any, hub: UiHub) -> None:
    with hub.api() as http:
        sid = agent_session(http)
    sign_in(page, hub.key)
    page.goto(f"/ui/sessions/{sid}")
    asked: list[str] = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.get_by_role("link", name="Rewind to event 5").click()
    expect(page.locator("ol.events > li")).to_have_count(len(TRANSCRIPT))  # kept
    assert asked == ["Rewind to event 5? Every later event is deleted."]
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("link", name="Rewind to event 5").click()
    expect(page.get_by_role("status")).to_have_text("Rewound: 2 events removed")
    expect(page.locator("ol.events > li")).to_have_count(5)
    with hub.api() as http:
        assert session(http, sid)["totals"]["events"] == 5


def test_rewind_and_delete_without_script_ask_on_a_page(browser: Any, hub: UiHub) -> None:
    with hub.api() as http:
        sid = agent_session(http)
    context = browser.new_context(java_script_enabled=False, base_url=hub.url)
    try:
        page = context.new_page()
        sign_in(page, hub.key)
        page.goto(f"/ui/sessions/{sid}")
        page.get_by_role("link", name="Rewind to event 6").click()
        expect(page.get_by_role("heading")).to_contain_text("Rewind")
        page.get_by_role("button", name="Rewind").click()
        expect(page.get_by_role("status")).to_have_text("Rewound: 1 events removed")
        page.get_by_role("link", name="Delete").click()
        page.get_by_role("button", name="Delete").click()
        page.wait_for_url("**/ui?note=*")
        expect(page.get_by_role("status")).to_contain_text(f"Deleted {sid}")
    finally:
        context.close()
    with hub.api() as http:
        assert http.get(f"/v1/sessions/{sid}").status_code == 404


def test_export_downloads_json_and_tar(page: Any, hub: UiHub) -> None:
    with hub.api() as http:
        sid = agent_session(http)
        http.put(f"/v1/sessions/{sid}/files/notes.txt", content=b"exported file")
    sign_in(page, hub.key)
    page.goto(f"/ui/sessions/{sid}")
    with page.expect_download() as got:
        page.get_by_role("link", name="Export JSON").click()
    document = json.loads(got.value.path().read_bytes())
    assert got.value.suggested_filename == f"{sid}.json"
    assert len(document["events"]) == len(TRANSCRIPT)
    with page.expect_download() as got:
        page.get_by_role("link", name="Export tar.gz").click()
    with tarfile.open(fileobj=io.BytesIO(got.value.path().read_bytes())) as tar:
        names = tar.getnames()
    assert any(name.endswith("notes.txt") for name in names), names


def test_delete_after_confirming(page: Any, hub: UiHub) -> None:
    with hub.api() as http:
        sid = agent_session(http, "Doomed")
    sign_in(page, hub.key)
    page.goto(f"/ui/sessions/{sid}")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("link", name="Delete").click()
    page.wait_for_url("**/ui?note=*")
    expect(page.get_by_role("link", name="Doomed")).to_have_count(0)


@pytest.mark.parametrize("script", [[{"content": "thinking very slowly", "delay": 30}]])
def test_cancel_a_running_agent_turn(page: Any, hub: UiHub) -> None:
    with hub.api() as http:
        sid = http.post("/v1/sessions", json={"kind": "agent", "title": "Slow"}).json()["id"]
        assert (
            http.post(f"/v1/sessions/{sid}/runs", json={"input": {"text": "hi"}}).status_code == 202
        )
        wait_for(lambda: session(http, sid)["status"] == "running")
    sign_in(page, hub.key)
    page.goto(f"/ui/sessions/{sid}")
    expect(page.locator(".state .status")).to_have_text("running")
    page.get_by_role("button", name="Cancel run").click()
    expect(page.get_by_role("status")).to_have_text("Cancelled")
    expect(page.locator(".state .status")).not_to_have_text("running")
    expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)
    expect(page.locator("ol.events")).to_contain_text("Turn cancelled")
    wait_for(lambda: hub.llm.disconnects == 1)  # the provider's request was dropped
