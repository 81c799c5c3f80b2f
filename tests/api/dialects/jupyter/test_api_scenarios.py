"""More of jupyter_server's test_api.py / test_manager.py scenarios, over HTTP and the websocket.

The model's exact shape, list order, client-chosen kernel ids, the connections count
across a restart, kernel switches on shared kernels, bad PATCH bodies, auth on every
surface, and named kernelspecs other than the default.
"""

from __future__ import annotations

import concurrent.futures
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from sessionhub import Client
from tests.api.dialects.jupyter.conftest import (
    Jupyter,
    Servers,
    no_kernel_processes_left,
    running,
)
from tests.api.dialects.jupyter.test_lifecycle import until
from tests.api.dialects.jupyter.test_transcript import run_cell, wait_for_executions

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
KERNEL_KEYS = {"id", "name", "last_activity", "execution_state", "connections"}


def create(j: Jupyter, path: str, kind: str = "notebook", **extra: object) -> dict[str, object]:
    answer = j.http.post("api/sessions", json={"path": path, "type": kind, **extra})
    assert answer.status_code == 201, answer.text
    made: dict[str, object] = answer.json()
    return made


def kernel_ids(j: Jupyter) -> list[str]:
    return [k["id"] for k in j.http.get("api/kernels").json()]


def test_model_shape_list_order_and_delete_in_the_middle(jupyter: Jupyter) -> None:
    nb = create(jupyter, "foo/nb1.ipynb")
    py = create(jupyter, "foo/nb1.py", "file")
    console = create(jupyter, "foo/abc123", "console", name="foo")
    for made in (nb, py, console):
        kernel = made["kernel"]
        assert isinstance(kernel, dict) and set(kernel) == KERNEL_KEYS
        assert kernel["name"] == "python3" and kernel["connections"] == 0
        assert STAMP.match(kernel["last_activity"])
        assert jupyter.http.get(f"api/kernels/{kernel['id']}").json()["id"] == kernel["id"]
    assert set(nb) == {"id", "path", "name", "type", "kernel", "notebook"}
    assert set(py) == set(console) == {"id", "path", "name", "type", "kernel"}
    assert (console["path"], console["name"], console["type"]) == ("foo/abc123", "foo", "console")
    listed = jupyter.http.get("api/sessions").json()
    assert [s["id"] for s in listed] == [nb["id"], py["id"], console["id"]]
    assert ["notebook" in s for s in listed] == [True, False, False]
    assert listed[0]["notebook"] == {"path": "foo/nb1.ipynb", "name": ""}

    assert jupyter.http.delete(f"api/sessions/{py['id']}").status_code == 204
    assert [s["id"] for s in jupyter.http.get("api/sessions").json()] == [nb["id"], console["id"]]
    again = jupyter.http.delete(f"api/sessions/{py['id']}")
    assert again.status_code == 404
    assert again.json() == {"message": f"Session not found: session_id='{py['id']}'",
                            "reason": None}  # fmt: skip
    assert jupyter.http.get(f"api/sessions/{str(nb['id']).upper()}").status_code == 404


def test_client_supplied_kernel_id(jupyter: Jupyter) -> None:
    chosen = "12345678-1234-5678-1234-567812345678"
    made = create(jupyter, "c.ipynb", kernel={"id": chosen})
    assert made["kernel"]["id"] == chosen  # type: ignore[index]
    assert jupyter.http.get(f"api/kernels/{chosen}").status_code == 200
    assert run_cell(jupyter, chosen, "1+1") == "2"
    legacy = jupyter.http.post(
        "api/sessions", json={"notebook": {"path": "dep.ipynb"}, "kernel": {"id": chosen}}
    )
    assert legacy.status_code == 201 and legacy.json()["type"] == "notebook"
    assert legacy.json()["kernel"]["id"] == chosen

    # upstream races here (409 DuplicateKernelError); two paths, one new id: one kernel
    racing = "87654321-4321-8765-4321-876543218765"
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(
            lambda i: create(jupyter, f"r{i}.ipynb", kernel={"id": racing}), range(4)
        ))  # fmt: skip
    assert {a["kernel"]["id"] for a in answers} == {racing}  # type: ignore[index]
    assert len({a["id"] for a in answers}) == 4
    assert sorted(kernel_ids(jupyter)) == sorted([chosen, racing])
    assert len(jupyter.kernel_pids()) == 2


def ws_url(j: Jupyter, kernel_id: str, token: bool = True) -> str:
    url = j.base.replace("http", "ws", 1) + f"api/kernels/{kernel_id}/channels"
    return url + (f"?session_id=x&token={j.key}" if token else "?session_id=x")


def connections(j: Jupyter, kernel_id: str) -> int:
    return int(j.http.get(f"api/kernels/{kernel_id}").json()["connections"])


def test_connections_count_across_a_kernel_restart(jupyter: Jupyter) -> None:
    made = create(jupyter, "r.ipynb")
    kid = str(made["kernel"]["id"])  # type: ignore[index]
    assert connections(jupyter, kid) == 0
    with connect(ws_url(jupyter, kid), open_timeout=30):
        until(lambda: connections(jupyter, kid) == 1, "one connection")
        sessions = jupyter.http.get("api/sessions").json()
        assert sessions[0]["kernel"]["connections"] == 1
        restarted = jupyter.http.post(f"api/kernels/{kid}/restart")
        assert restarted.status_code == 200 and restarted.json()["id"] == kid
    until(lambda: connections(jupyter, kid) == 0, "the connection closed")
    assert run_cell(jupyter, kid, "3 * 3") == "9"  # a new websocket works


def test_switching_a_shared_kernel_keeps_it_for_the_other_session(jupyter: Jupyter) -> None:
    first = create(jupyter, "a.ipynb")
    shared = str(first["kernel"]["id"])  # type: ignore[index]
    second = create(jupyter, "b.ipynb", kernel={"id": shared})
    assert run_cell(jupyter, shared, "x = 7\nx") == "7"
    [shared_pid] = jupyter.kernel_pids()

    moved = jupyter.http.patch(f"api/sessions/{first['id']}", json={"kernel": {"name": "python3"}})
    assert moved.status_code == 200
    fresh = moved.json()["kernel"]["id"]
    assert fresh != shared
    assert sorted(kernel_ids(jupyter)) == sorted([shared, fresh])
    assert jupyter.http.get(f"api/sessions/{second['id']}").json()["kernel"]["id"] == shared
    assert run_cell(jupyter, shared, "x") == "7"  # the same process, still running

    joined = jupyter.http.patch(f"api/sessions/{second['id']}", json={"kernel": {"id": fresh}})
    assert joined.json()["kernel"]["id"] == fresh
    assert kernel_ids(jupyter) == [fresh]  # the last user let go: shut down
    until(lambda: no_kernel_processes_left([shared_pid]), "the old kernel process gone")


def test_bad_patch_bodies_are_400s(jupyter: Jupyter) -> None:
    made = create(jupyter, "p.ipynb", name="keep")
    url = f"api/sessions/{made['id']}"
    cases = [
        (b"", "No JSON data provided"), (b"{nope", "Invalid JSON in body of request"),
        (b"[1]", "The request body must be a JSON object"), (b"null", "The request body must be a JSON object"),
        (b'{"path": null}', "Field 'path' must be a string"),
        (b'{"name": null}', "Field 'name' must be a string"),
        (b'{"type": 5}', "Field 'type' must be a string"),
        (b'{"path": ""}', "Field 'path' must not be empty"),
        (b'{"kernel": null}', "Field 'kernel' must be an object"),
        (b'{"kernel": {"id": 5}}', "Field 'kernel.id' must be a string"),
        (b'{"notebook": {"path": null}}', "Field 'path' must be a string"),
    ]  # fmt: skip
    for raw, message in cases:
        answer = jupyter.http.patch(url, content=raw)
        assert answer.headers["content-type"] == "application/json"
        assert (answer.status_code, answer.json()) == (400, {"message": message, "reason": None})
    after = jupyter.http.get(url).json()
    assert (after["path"], after["name"], after["type"]) == ("p.ipynb", "keep", "notebook")
    assert after["kernel"]["id"] == made["kernel"]["id"]  # type: ignore[index]
    bad = jupyter.http.patch(url, json={"kernel": {"name": "nosuchkernel"}})
    assert bad.status_code == 501 and bad.json()["short_message"] == "nosuchkernel not found"
    for raw, message in [(b"{x", "Invalid JSON in body of request"),
                         (b'{"name": 5}', "Field 'name' must be a string")]:  # fmt: skip
        answer = jupyter.http.post("api/kernels", content=raw)
        assert (answer.status_code, answer.json()["message"]) == (400, message)
    assert jupyter.http.post("api/kernels", json={"name": "nosuch"}).status_code == 501
    assert jupyter.http.put(url, json={}).status_code == 405


def test_every_surface_wants_the_key(jupyter: Jupyter) -> None:
    made = create(jupyter, "auth.ipynb")
    sid, kid = made["id"], made["kernel"]["id"]  # type: ignore[index]
    calls = [
        ("GET", "api/sessions"), ("POST", "api/sessions"), ("GET", f"api/sessions/{sid}"),
        ("PATCH", f"api/sessions/{sid}"), ("DELETE", f"api/sessions/{sid}"),
        ("GET", "api/kernels"), ("POST", "api/kernels"), ("GET", f"api/kernels/{kid}"),
        ("DELETE", f"api/kernels/{kid}"), ("POST", f"api/kernels/{kid}/interrupt"),
        ("POST", f"api/kernels/{kid}/restart"), ("GET", "api/kernelspecs"),
    ]  # fmt: skip
    with httpx.Client(base_url=jupyter.base) as plain:
        for method, path in calls:
            for headers in ({}, {"Authorization": "token wrong"}, {"Authorization": "Basic abc"}):
                answer = plain.request(method, path, json={"path": "z", "type": "file"},
                                       headers=headers)  # fmt: skip
                assert answer.status_code == 403, (method, path, headers)
                assert answer.json() == {"message": "Forbidden", "reason": None}
    for url in (ws_url(jupyter, str(kid), token=False), ws_url(jupyter, str(kid)) + "x"):
        with pytest.raises(InvalidStatus) as refused:
            connect(url, open_timeout=10)
        assert refused.value.response.status_code == 403
    assert [s["id"] for s in jupyter.http.get("api/sessions").json()] == [sid]
    assert kernel_ids(jupyter) == [kid]


def test_deleting_kernels(jupyter: Jupyter) -> None:
    alone = jupyter.http.post("api/kernels", json={"name": "python3"})
    assert alone.status_code == 201
    alone_id = alone.json()["id"]
    assert alone.headers["location"] == f"/jupyter/api/kernels/{alone_id}"
    made = create(jupyter, "k.ipynb")
    sid, kid = made["id"], str(made["kernel"]["id"])  # type: ignore[index]
    assert run_cell(jupyter, kid, "y = 3") is None
    pids = jupyter.kernel_pids()
    assert len(pids) == 2

    assert jupyter.http.delete(f"api/kernels/{alone_id}").status_code == 204
    assert jupyter.http.get(f"api/kernels/{alone_id}").status_code == 404
    assert jupyter.http.delete(f"api/kernels/{alone_id}").status_code == 404
    # a session's kernel: shut down, the session stays and gets a kernel again on use
    assert jupyter.http.delete(f"api/kernels/{kid}").status_code == 204
    until(lambda: no_kernel_processes_left(pids), "both kernel processes gone")
    [listed] = jupyter.http.get("api/sessions").json()
    assert listed["id"] == sid and listed["kernel"]["execution_state"] == "starting"
    assert kernel_ids(jupyter) == [kid]
    assert run_cell(jupyter, kid, "'y' in dir()") == "False"  # a new process
    assert len(jupyter.kernel_pids()) == 1


@pytest.fixture
def two_specs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Jupyter]:
    """A server that also sees a second kernelspec, ``alt`` (ipykernel under another name)."""
    spec = tmp_path / "jupyter" / "kernels" / "alt"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": "Alt", "language": "python",
         "env": {"SESSIONHUB_TEST_SPEC": "alt"}}
    ))  # fmt: skip
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    with running(tmp_path, capsys) as hub:
        yield hub


def test_a_named_kernelspec_is_the_one_started(two_specs: Jupyter) -> None:
    j = two_specs
    specs = j.http.get("api/kernelspecs").json()
    assert specs["default"] == "python3" and {"python3", "alt"} <= set(specs["kernelspecs"])
    probe = "import os\nos.environ.get('SESSIONHUB_TEST_SPEC', 'none')"
    made = create(j, "alt.ipynb", kernel={"name": "alt"})
    kid = str(made["kernel"]["id"])  # type: ignore[index]
    assert made["kernel"]["name"] == "alt"  # type: ignore[index]
    assert run_cell(j, kid, probe) == repr("alt")
    plain = create(j, "plain.ipynb")
    assert run_cell(j, str(plain["kernel"]["id"]), probe) == repr("none")  # type: ignore[index]
    switched = j.http.patch(f"api/sessions/{plain['id']}", json={"kernel": {"name": "alt"}})
    assert switched.json()["kernel"]["name"] == "alt"
    assert run_cell(j, switched.json()["kernel"]["id"], probe) == repr("alt")
    alone = j.http.post("api/kernels", json={"name": "alt"}).json()
    assert alone["name"] == "alt"
    assert run_cell(j, alone["id"], probe) == repr("alt")


def test_fields_the_store_cannot_keep_are_400s(servers: Servers) -> None:
    """NUL characters (PostgreSQL keeps none), over-long fields and unsafe new kernel ids."""
    j = servers.start()
    made = create(j, "ok.ipynb")
    url = f"api/sessions/{made['id']}"
    posts = [
        ({"path": "x\u0000y", "type": "notebook"}, "Field 'path' must not contain NUL characters"),
        ({"path": "n", "type": "notebook", "name": "a\u0000"}, "Field 'name' must not contain NUL characters"),
        ({"path": "t", "type": "\u0000"}, "Field 'type' must not contain NUL characters"),
        ({"path": "n", "type": "notebook", "name": "n" * 1001}, "Field 'name' is longer than 1000 characters"),
        ({"path": "p" * 201, "type": "notebook"}, "Field 'path' is longer than 200 characters"),
        ({"path": "k", "type": "file", "kernel": {"name": "py\u0000"}}, "Field 'kernel.name' must not contain NUL characters"),
    ]  # fmt: skip
    for body, message in posts:
        answer = j.http.post("api/sessions", json=body)
        assert (answer.status_code, answer.json()) == (400, {"message": message, "reason": None})
    for bad_id in ("../../etc", "k" * 101, "a b", "ok\n"):
        answer = j.http.post("api/sessions", json={"path": "w", "type": "file",
                                                   "kernel": {"id": bad_id}})  # fmt: skip
        assert answer.status_code == 400
        assert answer.json()["message"].startswith(f"Invalid kernel id {bad_id!r}")
    patches = [
        ({"type": "a\u0000b"}, "Field 'type' must not contain NUL characters"),
        ({"name": "n" * 1001}, "Field 'name' is longer than 1000 characters"),
        ({"notebook": {"path": "\u0000"}}, "Field 'path' must not contain NUL characters"),
    ]  # fmt: skip
    for body, message in patches:
        answer = j.http.patch(url, json=body)
        assert (answer.status_code, answer.json()) == (400, {"message": message, "reason": None})
    assert [s["id"] for s in j.http.get("api/sessions").json()] == [made["id"]]
    assert len(kernel_ids(j)) == 1
    create(j, "taken.ipynb")
    taken = j.http.patch(url, json={"path": "taken.ipynb"})
    assert taken.status_code == 409 and set(taken.json()) == {"message", "reason"}
    assert j.http.get(url).json()["path"] == "ok.ipynb"


def test_a_cell_that_prints_nul_is_recorded(servers: Servers) -> None:
    j = servers.start()
    made = create(j, "nul.ipynb")
    sid, kid = str(made["id"]), str(made["kernel"]["id"])  # type: ignore[index]
    with Client(base_url=j.server.url, api_key=j.key) as c:
        native = c.execute(sid, "print('a' + chr(0) + 'b')")
        assert native.payload["outputs"][0]["text"] == "a\ufffdb\n"
        sent = c.execute(sid, "1 # \u0000")  # Python refuses a NUL in source code
        assert sent.payload["code"] == "1 # \ufffd" and sent.payload["status"] == "error"
    assert run_cell(j, kid, "print(chr(0) * 2)") is None
    cells = wait_for_executions(j, sid, 3)
    assert cells[2]["payload"]["outputs"] == [
        {"output_type": "stream", "name": "stdout", "text": "\ufffd\ufffd\n"}
    ]
