"""Sessions and files through the real mix-python-sdk==0.8.1."""

from __future__ import annotations

import httpx

from tests.api.dialects.mix.conftest import Harness


def test_session_operations(harness: Harness) -> None:
    out = harness.run("sessions")
    made = out["created"]
    assert made["title"] == "first" and made["browserMode"] == "local-browser-service"
    assert made["sessionType"] == "main" and made["userMessageCount"] == 0
    assert made["callbacks"][0]["bashCommand"] == "echo hi"
    assert made["callbacks"][0]["bashTimeout"] == 120000
    assert out["cdp"]["cdpUrl"] == "ws://x:1/devtools"
    assert out["got"]["id"] == made["id"]
    assert out["updated"]["callbacks"][0]["type"] == "send_message"
    assert set(out["listed"]) == {made["id"], out["cdp"]["id"]}
    assert out["export"]["id"] == made["id"] and out["export"]["messages"] == []
    assert out["disposition"] == [f"attachment; filename=session_{made['id']}_transcript.json"]
    assert out["after_delete"] == [made["id"]]
    assert out["get_deleted"] == {
        "status": 404, "code": 404, "type": "not_found",
        "message": f"Session with ID '{out['cdp']['id']}' not found",
    }  # fmt: skip
    assert out["cancel_idle"]["cancelled"] is False


def test_validation_errors(harness: Harness) -> None:
    out = harness.run("errors")
    assert out["title"] == {"status": 400, "code": 400, "type": "validation_error",
                            "message": "title is required"}  # fmt: skip
    assert "cdpUrl is required" in out["cdp_missing"]["message"]
    assert "ws://" in out["cdp_scheme"]["message"]
    assert out["append_size"]["message"] == (
        "Custom prompt size (50KB) exceeds append mode limit of 50KB"
    )
    assert out["replace_ok"] is True and out["default_ignores"] is True
    assert out["subagent_type"]["message"].startswith("subagentType cannot be set")
    assert out["callback"]["message"] == (
        "Validation error for field 'callbacks': bash_script type requires 'bashCommand' field"
    )
    assert out["callback_exclude"]["message"].endswith("cannot be excluded from context")
    cb = "Validation error for field 'callbacks': "
    assert (
        out["sub_agent_prompt"]["message"] == cb + "sub_agent type requires 'subAgentPrompt' field"
    )
    assert (
        out["send_content"]["message"] == cb + "send_message type requires 'messageContent' field"
    )
    assert out["first_rule_first"]["message"] == "title is required"  # Go's order: title first
    assert out["replace_size"] == {"status": 400, "code": 400, "type": "validation_error",
        "message": "Custom prompt size (100KB) exceeds replace mode limit of 100KB"}  # fmt: skip
    assert out["replace_max"] is True and out["append_max"] is True
    assert out["append_bytes"]["message"] == (  # counted in UTF-8 bytes, not characters
        "Custom prompt size (50KB) exceeds append mode limit of 50KB"
    )
    assert out["wss"] == "wss://x:1/devtools"
    assert out["patch_invalid"]["status"] == 400
    assert out["patch_invalid"]["message"] == cb + "bash_script type requires 'bashCommand' field"
    assert out["patch_missing"]["status"] == 404 and out["patch_missing"]["type"] == "not_found"
    assert out["patch_clears"] in (None, [])
    assert out["history_huge"] == []  # an offset past everything: an empty page, not a 500
    for name in ("delete_missing", "export_missing", "cancel_missing", "list_files_missing"):
        assert out[name] == {"status": 404, "code": 404, "type": "not_found",
                             "message": "Session with ID 'nope' not found"}, name  # fmt: skip
    assert out["get_missing"]["status"] == 404
    assert out["rewind_missing"]["type"] == "not_found"
    assert out["send_missing"]["status"] == 404


# Go's CallbackConfig.Validate order: each list breaks exactly one more rule than it reports
CALLBACK_RULES = [
    ([{}], "missing required field 'toolName'"),
    ([{"toolName": "Bash"}], "missing required field 'type'"),
    ([{"toolName": "Bash", "type": "shell"}],
     "type must be 'bash_script', 'sub_agent', or 'send_message', got 'shell'"),
    ([{"toolName": "Bash", "type": "bash_script", "messageContent": "m"}],
     "bash_script type requires 'bashCommand' field"),
    ([{"toolName": "*", "type": "send_message", "excludeFromContext": True}],
     "send_message type requires 'messageContent' field"),
    ([{"toolName": "*", "type": "send_message", "messageContent": "m", "excludeFromContext": True}],
     "send_message callbacks cannot be excluded from context"),
    ([{"toolName": "*", "type": "bash_script", "bashCommand": "true"}, {"type": "sub_agent"}],
     "missing required field 'toolName'"),  # the first bad callback of the list
    ([{"toolName": 5, "type": "bash_script", "bashCommand": "true"}], "'toolName' must be a string"),
    ([{"toolName": "Bash", "type": "bash_script", "bashCommand": {"run": "x"}}],
     "'bashCommand' must be a string"),
    ([{"toolName": "Bash", "type": "bash_script", "bashCommand": "x", "bashTimeout": "5"}],
     "bashTimeout must be a positive number of milliseconds"),
]  # fmt: skip


def test_raw_rules_the_sdk_cannot_send(harness: Harness) -> None:
    """Older TypeScript shapes and the rules the SDK checks itself, over plain HTTP."""
    auth = {"Authorization": f"Bearer {harness.key}"}
    with httpx.Client(base_url=harness.url, headers=auth) as http:
        older = http.post("/api/sessions", json={"workingDirectory": "/tmp"})
        assert older.status_code == 201, older.text
        assert older.json()["browserMode"] == "local-browser-service"
        bad = http.post("/api/sessions", json={"title": "t", "browserMode": "local-browser-service",
                                               "promptMode": "weird"})  # fmt: skip
        assert bad.json()["error"]["message"] == (
            "promptMode must be 'default', 'append', or 'replace'"
        )
        sub = http.post("/api/sessions", json={"title": "t", "browserMode": "local-browser-service",
                                               "sessionType": "subagent"})  # fmt: skip
        assert sub.status_code == 400 and sub.json()["error"]["message"].startswith("API can only")
        for callbacks, message in CALLBACK_RULES:
            made = http.post("/api/sessions", json={
                "title": "t", "browserMode": "local-browser-service", "callbacks": callbacks})  # fmt: skip
            assert made.status_code == 400, (callbacks, made.text)
            assert made.json()["error"] == {"code": 400, "type": "validation_error",
                "message": f"Validation error for field 'callbacks': {message}"}  # fmt: skip
        bad_mode = http.post("/api/sessions", json={"title": "t", "browserMode": "firefox"})
        assert bad_mode.status_code == 400 and "browserMode" in bad_mode.json()["error"]["message"]
        sid = older.json()["id"]
        for last in ("9" * 5000, "0" * 30 + "1", "9" * 5000 + ".7", "0.3"):  # past anything
            # sent; leading zeros; frames of a reply no longer there
            with http.stream("GET", "/stream", params={"sessionId": sid},
                             headers={"Last-Event-ID": last}) as res:  # fmt: skip
                assert res.status_code == 200 and next(res.iter_lines()).startswith("id:")
        for odd_id in (b"\xb2", b"1.", b"1.x", b"1.2.3", b".1", b"1.1234567890"):
            odd = http.get("/stream", params={"sessionId": sid}, headers={"Last-Event-ID": odd_id})
            assert odd.status_code == 400 and odd.json()["error"]["type"] == "validation_error"
        for query in ("limit=abc&offset=-5", "limit=%2B2&offset=" + "9" * 5000, "limit=-1"):
            history = http.get(f"/api/messages/history?{query}")
            assert history.status_code == 200 and history.json() == [], query
        junk = http.post("/api/sessions", content=b"{nope")
        assert junk.status_code == 400 and junk.headers["content-type"] == "application/json"
        assert junk.json()["error"]["type"] == "bad_request"
        unauthorised = httpx.get(f"{harness.url}/api/sessions")
        assert unauthorised.status_code == 401
        assert unauthorised.json()["error"]["type"] == "unauthorized"


def test_files(harness: Harness) -> None:
    out = harness.run("files")
    up = out["uploaded"]
    assert up["name"] == "my_notes.txt" and up["size"] == 5 and up["isDir"] is False
    assert up["url"] == f"{harness.url}/api/sessions/{out['session']}/files/my_notes.txt"
    assert out["evil"]["name"] == "escape.txt"
    assert sorted(f["name"] for f in out["listed"]) == ["escape.txt", "my_notes.txt"]
    assert out["content"] == "hello"
    assert out["after"] == ["escape.txt"]
    assert out["missing"]["status"] == 404
    assert out["too_big"]["status"] == 413
    with httpx.Client(headers={"Authorization": f"Bearer {harness.key}"}) as http:
        native = http.get(f"{harness.server.url}/v1/sessions/{out['session']}/files").json()
        assert [f["path"] for f in native["items"]] == ["escape.txt"]


def test_legacy_fork_of_a_session_without_messages_is_empty(harness: Harness) -> None:
    """Mix's ``messageIndex: 0`` on a new session: a 201 and a fork with no messages."""
    made = harness.run("sessions")["created"]  # made through the SDK, no messages
    auth = {"Authorization": f"Bearer {harness.key}"}
    with httpx.Client(base_url=harness.url, headers=auth) as http:
        fork = http.post(f"/api/sessions/{made['id']}/fork", json={"messageIndex": 0})
        assert fork.status_code == 201, fork.text
        forked = fork.json()
        assert forked["parentSessionId"] == made["id"] and forked["userMessageCount"] == 0
        assert http.get(f"/api/sessions/{forked['id']}/messages").json() == []
        past = http.post(f"/api/sessions/{made['id']}/fork", json={"messageIndex": 1})
        assert past.status_code == 400 and past.json()["error"]["type"] == "validation_error"
