"""Executions through the websocket become events; fork and rewind replay them in a kernel."""

from __future__ import annotations

import json
import uuid
from typing import Any

from websockets.sync.client import connect

from sessionhub.api.dialects.jupyter.channels import V1, pack_v1, unpack_v1
from tests.api.dialects.jupyter.conftest import Jupyter, Servers


def request(code: str) -> dict[str, Any]:
    header = {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request", "username": "t",
              "session": "s", "version": "5.3", "date": "2026-01-01T00:00:00Z"}  # fmt: skip
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
               "allow_stdin": False, "stop_on_error": True}  # fmt: skip
    return {"header": header, "parent_header": {}, "metadata": {}, "content": content}


def run_cell(j: Jupyter, kernel_id: str, code: str, *, v1: bool = False) -> Any:
    """Execute over the websocket; the execute_result's text, once the kernel is idle."""
    url = j.base.replace("http", "ws", 1) + f"api/kernels/{kernel_id}/channels?token={j.key}"
    msg = request(code)
    result, idle, replied = None, False, False
    with connect(url, subprotocols=[V1] if v1 else None, open_timeout=30) as ws:  # type: ignore[list-item]
        if v1:
            parts = [
                json.dumps(msg[k]).encode()
                for k in ("header", "parent_header", "metadata", "content")
            ]
            ws.send(pack_v1("shell", parts))
        else:
            ws.send(json.dumps({**msg, "channel": "shell"}))
        while not (idle and replied):
            frame = ws.recv(timeout=30)
            if isinstance(frame, bytes):
                channel, raw = unpack_v1(frame)
                got = {"channel": channel, "header": json.loads(raw[0]),
                       "parent_header": json.loads(raw[1]), "content": json.loads(raw[3])}  # fmt: skip
            else:
                got = json.loads(frame)
            if got["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
                continue
            kind = got["header"]["msg_type"]
            if kind == "execute_result":
                result = got["content"]["data"]["text/plain"]
            replied = replied or kind == "execute_reply"
            idle = idle or (kind == "status" and got["content"]["execution_state"] == "idle")
    return result


def executions(j: Jupyter, session_id: str) -> list[dict[str, Any]]:
    items = j.http.get(f"{j.server.url}/v1/sessions/{session_id}/events").json()["items"]
    return [e for e in items if e["type"] == "execution"]


def wait_for_executions(j: Jupyter, session_id: str, count: int) -> list[dict[str, Any]]:
    import time

    for _ in range(100):
        found = executions(j, session_id)
        if len(found) >= count:
            return found
        time.sleep(0.05)
    return executions(j, session_id)


def test_transcript_fork_and_rewind(servers: Servers) -> None:
    jupyter = servers.start()
    session = jupyter.http.post("api/sessions", json={"path": "t.ipynb", "type": "notebook"}).json()
    sid, kid = session["id"], session["kernel"]["id"]
    assert run_cell(jupyter, kid, "x = 20\nx") == "20"
    assert run_cell(jupyter, kid, "x = x + 1\nx", v1=True) == "21"
    assert run_cell(jupyter, kid, "x = x * 100\nx") == "2100"
    cells = wait_for_executions(jupyter, sid, 3)
    assert [c["payload"]["code"] for c in cells] == ["x = 20\nx", "x = x + 1\nx", "x = x * 100\nx"]
    assert cells[1]["payload"]["outputs"][0]["data"]["text/plain"] == "21"
    assert cells[1]["payload"]["execution_count"] == 2
    exported = jupyter.http.get(f"{jupyter.server.url}/v1/sessions/{sid}/export").json()
    assert len([e for e in exported["events"] if e["type"] == "execution"]) == 3

    fork = jupyter.http.post(
        f"{jupyter.server.url}/v1/sessions/{sid}/fork", json={"at_event_id": cells[1]["id"]}
    )
    assert fork.status_code == 201
    forked = jupyter.http.get(f"api/sessions/{fork.json()['id']}").json()
    assert forked["kernel"]["id"] != kid
    assert run_cell(jupyter, forked["kernel"]["id"], "x") == "21"
    assert run_cell(jupyter, kid, "x") == "2100"

    rewound = jupyter.http.post(
        f"{jupyter.server.url}/v1/sessions/{sid}/rewind", json={"to_event_id": cells[0]["id"]}
    )
    assert rewound.status_code == 200
    assert run_cell(jupyter, kid, "x") == "20"
    # a restarted kernel that ran the one kept cell, not the old process re-running it
    assert run_cell(jupyter, kid, "len(In) - 1") == "3"
    kept = wait_for_executions(jupyter, sid, 3)
    assert [c["payload"]["code"] for c in kept] == ["x = 20\nx", "x", "len(In) - 1"]
    assert [c["payload"]["execution_count"] for c in kept] == [1, 2, 3]
