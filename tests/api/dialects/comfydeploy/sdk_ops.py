"""Drive comfydeploy==0.6.3 through a list of operations; print one JSON result per op.

Usage: python sdk_ops.py <server_url> <bearer> '<json list of [op, kwargs]>'
"""

import json
import sys

from comfydeploy import ComfyDeploy
from comfydeploy.models import errors

server_url, bearer, plan = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
client = ComfyDeploy(bearer=bearer, server_url=server_url)


def run(op, kwargs):
    if op == "create":
        res = client.session.create(request=kwargs)
        out = res.create_session_response
        url = out.url if isinstance(out.url, str) else None
        return {"session_id": out.session_id, "url": url}
    if op == "get":
        s = client.session.get(session_id=kwargs["session_id"]).session
        return {
            "session_id": s.session_id,
            "gpu_event_id": s.gpu_event_id,
            "url": s.url,
            "gpu": s.gpu,
            "created_at": s.created_at.isoformat(),
            "timeout": s.timeout,
            "machine_id": s.machine_id,
        }
    if op == "list":
        items = client.session.list(machine_id=kwargs["machine_id"])
        items = items.response_get_machine_sessions_sessions_get
        return [
            {
                "id": e.id,
                "session_id": e.session_id,
                "gpu": e.gpu,
                "start_time": e.start_time and e.start_time.isoformat(),
                "end_time": e.end_time,
                "gpu_provider": e.gpu_provider,
                "tunnel_url": e.tunnel_url,
                "session_timeout": e.session_timeout,
                "machine_id": e.machine_id,
            }
            for e in items
        ]
    if op == "cancel":
        return {
            "success": client.session.cancel(
                session_id=kwargs["session_id"]
            ).delete_session_response.success
        }
    if op == "increase":
        res = client.session.increase_timeout_session_increase_timeout_post(request=kwargs)
        return {"status": res.http_meta.response.status_code, "body": res.any}
    raise ValueError(op)


results = []
for op, kwargs in plan:
    # "@N" stands for the session_id that the N-th operation created
    kwargs = {
        k: results[int(v[1:])]["ok"]["session_id"] if str(v).startswith("@") else v
        for k, v in kwargs.items()
    }
    try:
        results.append({"ok": run(op, kwargs)})
    except errors.HTTPValidationError as exc:
        results.append({"validation": [d.loc for d in (exc.data.detail or [])]})
    except errors.SDKError as exc:
        results.append({"status": exc.status_code, "body": json.loads(exc.body)})
print(json.dumps(results))
