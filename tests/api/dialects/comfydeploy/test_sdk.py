"""comfydeploy==0.6.3 against a live sessionhub: machine sessions end to end."""

from __future__ import annotations

import os

import httpx
import pytest

from tests.api.dialects.comfydeploy.conftest import Comfy
from tests.kinds.machine.support import gone, wait_for

SEVEN = {"session_id", "gpu_event_id", "url", "gpu", "created_at", "timeout", "machine_id"}


def test_create_waiting_get_list_cancel(comfy: Comfy) -> None:
    tiny = comfy.machines["tiny"]
    create = {"machine_id": tiny, "gpu": "A10G", "timeout": 5, "wait_for_server": True}
    [made] = comfy.sdk(("create", create))
    sid, url = made["ok"]["session_id"], made["ok"]["url"]
    assert url.startswith("http://127.0.0.1:")
    assert httpx.get(url, timeout=5).status_code == 200  # the machine's server answers
    pid = comfy.attributes(sid)["pid"]
    got, listed, cancelled, after, listed_after = comfy.sdk(
        ("get", {"session_id": sid}), ("list", {"machine_id": tiny}),
        ("cancel", {"session_id": sid}), ("get", {"session_id": sid}),
        ("list", {"machine_id": tiny}),
    )  # fmt: skip
    assert set(got["ok"]) == SEVEN and all(v is not None for v in got["ok"].values())
    assert got["ok"] | {"created_at": None, "gpu_event_id": None} == {
        "session_id": sid, "url": url, "gpu": "A10G", "timeout": 5, "machine_id": tiny,
        "created_at": None, "gpu_event_id": None,
    }  # fmt: skip
    [event] = listed["ok"]
    assert event["id"] == got["ok"]["gpu_event_id"] and event["session_id"] == sid
    assert (event["gpu"], event["gpu_provider"], event["end_time"]) == (
        "A10G",
        "comfy-deploy",
        None,
    )
    assert event["start_time"] and event["tunnel_url"] == url and event["session_timeout"] == 5
    assert cancelled == {"ok": {"success": True}}
    assert after == {"status": 404, "body": {"detail": "GPUEvent not found"}}
    assert listed_after == {"ok": []}
    assert gone(pid)
    attrs = comfy.attributes(sid)
    assert attrs["end_time"] and attrs["end_reason"] == "cancelled" and attrs["cost"] > 0
    runtime = _seconds(attrs["end_time"]) - _seconds(attrs["start_time"])
    assert attrs["cost"] == pytest.approx(36.0 * runtime / 3600, abs=1e-6)  # price x runtime
    events = comfy.native("GET", f"/v1/sessions/{sid}/events").json()["items"]
    assert [e["type"] for e in events] == ["gpu.start", "gpu.ready", "gpu.end"]
    assert events[-1]["cost"] == attrs["cost"]


def test_create_without_waiting_fills_the_url_later(comfy: Comfy) -> None:
    slow = comfy.machines["slow"]
    made, early, first = comfy.sdk(
        ("create", {"machine_id": slow, "gpu": None, "timeout": None, "wait_for_server": False}),
        ("get", {"session_id": "@0"}),
        ("list", {"machine_id": slow}),
    )
    sid = made["ok"]["session_id"]
    assert made["ok"]["url"] is None  # returned before the server answers (it sleeps 1.5 s)
    assert early["ok"]["session_id"] == sid and early["ok"]["url"] == ""  # never null
    assert [e["session_id"] for e in first["ok"]] == [sid]
    assert first["ok"][0]["tunnel_url"] is None  # start_time too may still be null (spec)
    url = wait_for(lambda: comfy.attributes(sid).get("url"))
    [got] = comfy.sdk(("get", {"session_id": sid}))
    assert got["ok"]["url"] == url and got["ok"]["gpu"] == "T4" and got["ok"]["timeout"] == 15
    assert httpx.get(url, timeout=5).status_code == 200


def test_command_template_env_gpu_and_the_process_group(comfy: Comfy) -> None:
    """{session_dir} and env reach the command; the body's gpu wins; cancel kills the group."""
    family = comfy.machines["family"]
    [made] = comfy.sdk(("create", {"machine_id": family, "gpu": "H100", "wait_for_server": True}))
    sid = made["ok"]["session_id"]
    attrs = comfy.attributes(sid)
    mode = comfy.native("GET", f"/v1/sessions/{sid}/files/mode.txt")
    assert mode.status_code == 200 and mode.text == "family-mode\n"
    child = int(comfy.native("GET", f"/v1/sessions/{sid}/files/child.pid").text)
    assert attrs["pgid"] == attrs["pid"] == os.getpgid(attrs["pid"]) == os.getpgid(child)
    assert attrs["pgid"] != os.getpgid(0)  # a group of its own
    got, listed = comfy.sdk(("get", {"session_id": sid}), ("list", {"machine_id": "family"}))
    assert got["ok"]["gpu"] == "H100" and got["ok"]["machine_id"] == family
    assert [(e["session_id"], e["gpu"]) for e in listed["ok"]] == [(sid, "H100")]
    [plain] = comfy.sdk(("create", {"machine_id": family, "wait_for_server": False}))
    assert comfy.attributes(plain["ok"]["session_id"])["gpu"] == "L4"  # the machine's label
    assert comfy.sdk(("cancel", {"session_id": sid})) == [{"ok": {"success": True}}]
    assert gone(attrs["pid"]) and wait_for(lambda: gone(child), 5)


def test_list_is_active_only_newest_first_per_machine(comfy: Comfy) -> None:
    tiny, slow = comfy.machines["tiny"], comfy.machines["slow"]
    a, b, c = comfy.sdk(
        ("create", {"machine_id": tiny, "wait_for_server": True}),
        ("create", {"machine_id": tiny, "wait_for_server": True}),
        ("create", {"machine_id": slow, "wait_for_server": False}),
    )
    ids = [r["ok"]["session_id"] for r in (a, b, c)]
    _, listed, other = comfy.sdk(
        ("cancel", {"session_id": ids[0]}), ("list", {"machine_id": tiny}),
        ("list", {"machine_id": "no-such-machine"}),
    )  # fmt: skip
    assert [e["session_id"] for e in listed["ok"]] == [ids[1]]
    assert other == {"ok": []}
    everyone = comfy.native("GET", "/comfydeploy/api/sessions")  # no machine_id: all active
    assert everyone.status_code == 200
    assert sorted(e["session_id"] for e in everyone.json()) == sorted(ids[1:])
    [both] = comfy.sdk(("create", {"machine_id": tiny, "wait_for_server": True}))
    [listed] = comfy.sdk(("list", {"machine_id": tiny}))
    assert [e["session_id"] for e in listed["ok"]] == [both["ok"]["session_id"], ids[1]]


def test_errors_in_the_backend_shapes(comfy: Comfy) -> None:
    solo = comfy.machines["solo"]
    missing, get404, cancel404, first, second = comfy.sdk(
        ("create", {"machine_id": "nope", "wait_for_server": True}),
        ("get", {"session_id": "nope"}), ("cancel", {"session_id": "nope"}),
        ("create", {"machine_id": solo, "wait_for_server": True}),
        ("create", {"machine_id": solo, "wait_for_server": True}),
    )  # fmt: skip
    assert missing == {"status": 404, "body": {"detail": "Machine not found"}}
    assert get404 == cancel404 == {"status": 404, "body": {"detail": "GPUEvent not found"}}
    assert "ok" in first
    assert second["status"] == 409 and "limit of 1" in second["body"]["detail"]
    raw = httpx.post(f"{comfy.api}/session", json={"timeout": "x"},
                     headers={"Authorization": f"Bearer {comfy.token}"})  # fmt: skip
    assert raw.status_code == 422 and raw.headers["content-type"] == "application/json"
    locs = sorted(tuple(d["loc"]) for d in raw.json()["detail"])
    assert locs == [("body", "machine_id"), ("body", "timeout")]
    short = httpx.post(f"{comfy.api}/session/increase-timeout", json={"session_id": "x"},
                       headers={"Authorization": f"Bearer {comfy.token}"})  # fmt: skip
    assert short.status_code == 422
    assert sorted(d["loc"][-1] for d in short.json()["detail"]) == ["gpu", "machine_id", "timeout"]
    [broken] = comfy.sdk(("create", {"machine_id": "broken", "wait_for_server": True}))
    assert broken == {"status": 500, "body": {"detail": "Session creation failed"}}
    anonymous = httpx.get(f"{comfy.api}/sessions", params={"machine_id": solo})
    assert anonymous.status_code == 401 and isinstance(anonymous.json()["detail"], str)


def test_a_missing_or_wrong_bearer_is_401_through_the_sdk(comfy: Comfy) -> None:
    tiny = comfy.machines["tiny"]
    plan = (
        ("create", {"machine_id": tiny, "wait_for_server": True}),
        ("get", {"session_id": "x"}), ("list", {"machine_id": tiny}),
        ("cancel", {"session_id": "x"}),
        ("increase", {"machine_id": tiny, "session_id": "x", "timeout": 1, "gpu": "T4"}),
    )  # fmt: skip
    denied = {"status": 401, "body": {"detail": "Invalid or missing token"}}
    assert comfy.sdk(*plan, token="shk_wrong") == [denied] * len(plan)
    anonymous = httpx.post(f"{comfy.api}/session", json={"machine_id": tiny})
    assert anonymous.status_code == 401 and anonymous.json() == denied["body"]
    assert comfy.native("GET", "/v1/sessions", params={"kind": "machine"}).json()["items"] == []


def test_increase_timeout_extends_the_deadline(comfy: Comfy) -> None:
    tiny = comfy.machines["tiny"]
    [made] = comfy.sdk(("create", {"machine_id": tiny, "timeout": 1, "wait_for_server": True}))
    sid = made["ok"]["session_id"]
    before = comfy.attributes(sid)["timeout_end"]
    body = {"machine_id": tiny, "session_id": sid, "timeout": 2, "gpu": "A10G"}
    increased, got, wrong = comfy.sdk(
        ("increase", body), ("get", {"session_id": sid}),
        ("increase", {**body, "session_id": "nope"}),
    )  # fmt: skip
    assert increased == {
        "ok": {"status": 200, "body": {"message": "Timeout increased successfully"}}
    }
    assert got["ok"]["timeout"] == 3
    assert wrong == {"status": 404, "body": {"detail": "GPUEvent not found"}}
    after = comfy.attributes(sid)["timeout_end"]
    assert _seconds(after) - _seconds(before) == 120


def test_timeout_expiry_kills_the_machine(comfy: Comfy) -> None:
    """Minutes are the SDK's unit; the native API takes seconds, so expiry is seen quickly."""
    spec = {"kind": "machine", "attributes": {"machine_id": "tiny", "timeout_seconds": 1.5}}
    sid = comfy.native("POST", "/v1/sessions", json=spec).json()["id"]
    assert comfy.native("POST", f"/v1/sessions/{sid}/runs", json={}).status_code == 202
    pid = wait_for(lambda: comfy.attributes(sid).get("pid"))
    attrs = wait_for(lambda: (a := comfy.attributes(sid))["end_time"] and a, timeout=15)
    assert attrs["end_reason"] == "timeout" and gone(pid)
    [got] = comfy.sdk(("get", {"session_id": sid}))
    assert got == {"status": 404, "body": {"detail": "GPUEvent not found"}}


def _seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
