"""ReadMedia, Show, Search, plan mode and ExitPlanMode, through the real SDK."""

from __future__ import annotations

import base64
import json

import pytest

from tests.dialects.mix.conftest import Harness

PICTURE = "not really a PNG, but bytes the provider receives"
MEDIA = [
    {"tools": [
        ("ReadMedia", {"file_path": "dot.png", "media_type": "image", "prompt": "What colour?"}),
        ("Show", {"outputs": [{"type": "image", "title": "The dot", "path": "dot.png"},
                              {"type": "markdown", "title": "Note", "data": "# hi"}]}),
        ("Show", {"outputs": [{"type": "image", "title": "Gone", "path": "missing.png"}]}),
        ("Search", {"query": "weather tomorrow"}),
        ("ReadMedia", {"file_path": "talk.mp3", "media_type": "audio", "prompt": "Words?",
                       "audio_mode": "transcript"}),
    ]},
    {"content": "A red dot on white.", "cost": 0.02},  # the provider's look at the image
    {"content": "It is a red dot."},
]  # fmt: skip


@pytest.mark.parametrize("script", [MEDIA])
def test_read_media_show_and_search(harness: Harness) -> None:
    out = harness.run("turn", text="look at dot.png", files={"dot.png": PICTURE, "talk.mp3": "ID3"})
    calls = out["messages"][1]["toolCalls"]
    read, shown, missing, searched, audio = calls
    analysis = json.loads(read["result"])
    assert read["isError"] is False
    assert analysis["results"] == [
        {"file_path": "dot.png", "media_type": "image", "analysis": "A red dot on white."}
    ]
    look = harness.llm.requests[1]["messages"][0]["content"]
    assert look[0]["text"].startswith("What colour?")
    assert look[1]["image_url"]["url"] == (
        "data:image/png;base64," + base64.b64encode(PICTURE.encode()).decode()
    )
    assert "tools" not in harness.llm.requests[1]
    assert shown["isError"] is False and shown["result"] == "Displaying 2 item(s): The dot, Note"
    assert missing["isError"] is True and "missing.png" in missing["result"]
    assert searched["isError"] is True and "no web search provider" in searched["result"]
    assert (
        audio["isError"] is True
        and "images only" in json.loads(audio["result"])["results"][0]["error"]
    )
    assert out["session"]["cost"] == pytest.approx(0.001 + 0.02 + 0.001)  # ReadMedia's look counts
    offered = {t["function"]["name"] for t in harness.llm.requests[0]["tools"]}
    assert {"ReadMedia", "Show", "Search", "ExitPlanMode", "Task", "Bash"} <= offered


PLAN = [
    {"tools": [("Write", {"file_path": "plan.txt", "content": "too early"}),
               ("ReadText", {"file_path": "notes.txt"}),
               ("ExitPlanMode", {"plan": "1. write plan.txt"})]},
    {"tools": [("Write", {"file_path": "plan.txt", "content": "after the plan"})]},
    {"content": "Done."},
]  # fmt: skip


@pytest.mark.parametrize("script", [PLAN])
def test_plan_mode_refuses_changes_until_exit_plan_mode(harness: Harness) -> None:
    out = harness.run("turn", text="plan it", plan_mode=True, files={"notes.txt": "read me"})
    early, reading, exiting = out["messages"][1]["toolCalls"]
    assert early["isError"] is True and "plan mode" in early["result"]
    assert reading["isError"] is False and "read me" in reading["result"]
    assert exiting["isError"] is False and "1. write plan.txt" in exiting["result"]
    (late,) = out["messages"][2]["toolCalls"]
    assert late["isError"] is False
    assert out["files"] == ["notes.txt", "plan.txt"]
    system = harness.llm.requests[0]["messages"][0]["content"]
    assert "Plan mode is on" in system
    assert "Plan mode is on" not in harness.llm.requests[1]["messages"][0]["content"]


@pytest.mark.parametrize("script", [[{"content": "no plan needed"}]])
def test_without_plan_mode_the_prompt_says_nothing_of_it(harness: Harness) -> None:
    harness.run("turn", text="hi")
    assert "Plan mode" not in harness.llm.requests[0]["messages"][0]["content"]
    assert "reasoning_effort" not in harness.llm.requests[0]  # no thinking_level sent
