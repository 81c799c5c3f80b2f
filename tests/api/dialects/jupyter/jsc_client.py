"""jupyter-server-client (datalayer) against a live sessionhub: prints one JSON object."""

import json
import sys

from jupyter_server_client import JupyterServerClient

base, token = sys.argv[1], sys.argv[2]
out: dict[str, object] = {}
with JupyterServerClient(base_url=base, token=token) as client:
    made = client.sessions.create_session(
        path="jsc.ipynb", kernel={"name": "python3"}, session_type="notebook", name="jsc"
    )
    out["created"] = {"path": made.path, "type": made.type, "kernel": made.kernel.name}
    again = client.sessions.create_session(
        path="jsc.ipynb", kernel={"name": "python3"}, session_type="notebook"
    )
    out["same_path_same_id"] = again.id == made.id
    out["listed"] = [s.id for s in client.sessions.list_sessions()] == [made.id]
    out["get_path"] = client.sessions.get_session(made.id).path
    out["renamed"] = client.sessions.rename_session(made.id, "other.ipynb").path
    out["kernels"] = [k.id for k in client.kernels.list_kernels()] == [made.kernel.id]
    client.sessions.delete_session(made.id)
    out["after_delete"] = len(client.sessions.list_sessions())
    try:
        client.sessions.get_session(made.id)
        out["get_deleted"] = "found"
    except Exception as exc:
        out["get_deleted"] = type(exc).__name__
print(json.dumps(out))
