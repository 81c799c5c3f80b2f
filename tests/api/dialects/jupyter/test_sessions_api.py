"""jupyter_server's test_api.py scenarios, written fresh, over HTTP against a live sessionhub."""

from __future__ import annotations

import concurrent.futures

import httpx

from tests.api.dialects.jupyter.conftest import Jupyter, Servers


def create(j: Jupyter, path: str, kind: str = "notebook", **extra: object) -> httpx.Response:
    return j.http.post("api/sessions", json={"path": path, "type": kind, **extra})


def test_create_list_get_delete(servers: Servers) -> None:
    jupyter = servers.start()
    assert jupyter.http.get("api/sessions").json() == []
    made = create(jupyter, "foo/nb1.ipynb")
    assert made.status_code == 201
    body = made.json()
    assert made.headers["location"] == f"/jupyter/api/sessions/{body['id']}"
    assert body["path"] == "foo/nb1.ipynb" and body["type"] == "notebook" and body["name"] == ""
    assert body["notebook"] == {"path": "foo/nb1.ipynb", "name": ""}
    assert len(body["kernel"]["id"]) == 36 and body["kernel"]["id"].count("-") == 4
    assert [s["id"] for s in jupyter.http.get("api/sessions?1795269017333").json()] == [body["id"]]
    assert jupyter.http.get(f"api/sessions/{body['id']}").json()["path"] == "foo/nb1.ipynb"
    assert [k["id"] for k in jupyter.http.get("api/kernels").json()] == [body["kernel"]["id"]]
    assert jupyter.http.delete(f"api/sessions/{body['id']}").status_code == 204
    assert jupyter.http.get("api/sessions").json() == []
    gone = jupyter.http.get(f"api/sessions/{body['id']}")
    assert gone.status_code == 404 and gone.json()["message"].startswith("Session not found")
    assert jupyter.http.get("api/kernels").json() == []


def test_create_or_return_by_path_is_atomic(jupyter: Jupyter) -> None:
    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(lambda _: create(jupyter, "race.ipynb"), range(5)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(jupyter.http.get("api/kernels").json()) == 1
    again = create(jupyter, "race.ipynb", "console", name="other")
    assert again.json()["id"] == answers[0].json()["id"] and again.json()["type"] == "notebook"


def test_legacy_file_console_and_bad_input(servers: Servers) -> None:
    jupyter = servers.start()
    legacy = jupyter.http.post("api/sessions", json={"notebook": {"path": "legacy.ipynb"}})
    assert legacy.status_code == 201 and legacy.json()["type"] == "notebook"
    assert create(jupyter, "foo/nb1.py", "file").json()["type"] == "file"
    cases = [
        (b"", "No JSON data provided"), (b"{nope", "Invalid JSON in body of request"),
        (b'{"type": "notebook"}', "Missing field in JSON data: path"),
        (b'{"path": "x"}', "Missing field in JSON data: type"),
        (b'{"path": null, "type": "file"}', "Field 'path' must be a string"),
        (b'{"path": "x", "type": "file", "kernel": null}', "Field 'kernel' must be an object"),
        (b"[1, 2]", "The request body must be a JSON object"),
    ]  # fmt: skip
    for raw, message in cases:
        answer = jupyter.http.post("api/sessions", content=raw)
        assert (answer.status_code, answer.json()) == (400, {"message": message, "reason": None})
    bad = create(jupyter, "k.ipynb", kernel={"name": "nosuchkernel"})
    assert bad.status_code == 501 and bad.json()["short_message"] == "nosuchkernel not found"
    assert jupyter.http.get("api/sessions/not-a-session").status_code == 404


def test_attach_to_kernel_and_shared_kernel_survives(jupyter: Jupyter) -> None:
    kernel = jupyter.http.post("api/kernels", json={"name": "python3"}).json()
    first = create(jupyter, "a.ipynb", kernel={"id": kernel["id"]}).json()
    second = create(jupyter, "b.ipynb", kernel={"id": kernel["id"]}).json()
    assert first["kernel"]["id"] == second["kernel"]["id"] == kernel["id"]
    assert jupyter.http.delete(f"api/sessions/{first['id']}").status_code == 204
    assert jupyter.http.get(f"api/kernels/{kernel['id']}").status_code == 200
    assert jupyter.http.delete(f"api/sessions/{second['id']}").status_code == 204
    assert jupyter.http.get("api/kernels").json() == []


def test_modify_path_type_and_kernel(servers: Servers) -> None:
    jupyter = servers.start()
    sid = create(jupyter, "nb1.ipynb").json()["id"]
    url = f"api/sessions/{sid}"
    assert jupyter.http.patch(url, json={"path": "nb2.ipynb"}).json()["path"] == "nb2.ipynb"
    legacy = jupyter.http.patch(url, json={"notebook": {"path": "nb3.ipynb"}}).json()
    assert legacy["notebook"]["path"] == "nb3.ipynb"
    console = jupyter.http.patch(url, json={"type": "console", "name": "c"}).json()
    assert console["type"] == "console" and "notebook" not in console and console["name"] == "c"
    assert jupyter.http.patch(url, json={}).json() == jupyter.http.get(url).json() | {
        "kernel": jupyter.http.patch(url, json={}).json()["kernel"]
    }
    old = console["kernel"]["id"]
    renamed = jupyter.http.patch(url, json={"kernel": {"name": "python3"}}).json()
    assert renamed["kernel"]["id"] != old
    assert [k["id"] for k in jupyter.http.get("api/kernels").json()] == [renamed["kernel"]["id"]]
    other = jupyter.http.post("api/kernels", json={}).json()["id"]
    moved = jupyter.http.patch(url, json={"kernel": {"id": other, "name": "foo"}}).json()
    assert moved["kernel"]["id"] == other
    assert [k["id"] for k in jupyter.http.get("api/kernels").json()] == [other]
    missing = jupyter.http.patch(url, json={"kernel": {"id": "nope"}})
    assert missing.status_code == 400 and missing.json()["message"] == "No such kernel: nope"
    assert jupyter.http.patch(url, json={"path": None}).status_code == 400
    assert jupyter.http.patch(url, json={"kernel": {"name": "bad"}}).status_code == 501
    unknown = jupyter.http.patch("api/sessions/0000-0-0-0-0", json={"path": "x"})
    assert unknown.status_code == 404


def test_auth_forms(jupyter: Jupyter) -> None:
    with httpx.Client(base_url=jupyter.base) as plain:
        assert plain.get("api/sessions").status_code == 403
        assert plain.get("api/sessions").json() == {"message": "Forbidden", "reason": None}
        assert plain.get("api/sessions", headers={"Authorization": "token nope"}).status_code == 403
        bearer = {"Authorization": f"Bearer {jupyter.key}"}
        assert plain.get("api/sessions", headers=bearer).status_code == 200
        assert plain.get(f"api/sessions?token={jupyter.key}").status_code == 200
        assert plain.get("api/kernelspecs", headers=bearer).json()["default"] == "python3"


def test_kernel_interrupt_and_restart(jupyter: Jupyter) -> None:
    kid = create(jupyter, "k.ipynb").json()["kernel"]["id"]
    assert jupyter.http.post(f"api/kernels/{kid}/interrupt").status_code == 204
    restarted = jupyter.http.post(f"api/kernels/{kid}/restart")
    assert restarted.status_code == 200 and restarted.json()["id"] == kid
    assert jupyter.http.get("api/kernels/nope").status_code == 404
