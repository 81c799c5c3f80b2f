"""A symlink the tenant's code plants in its session directory is followed by no read the
server makes for it: the agent's file tools, the files API, export (JSON and tar.gz) and
a fork's copy all refuse or skip it, so workspace ``beta``'s file never comes back."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.execution.conftest import SECRET, Tenants
from tests.execution.test_escape_agent import aimed, targets

PLANT = ("ln -s @VICTIM@ leak.txt; ln -s / root; mkdir -p deep; ln -s @VICTIM@ deep/leak.md; "
         "ls -la; echo planted")  # fmt: skip
READS = [
    ("Read", {"file_path": "leak.txt"}),
    ("Read", {"file_path": "root@VICTIM@"}),
    ("Grep", {"pattern": "beta", "output_mode": "content"}),
    ("Grep", {"pattern": "beta", "path": "deep", "output_mode": "content"}),
    ("Glob", {"pattern": "**/*"}),
]
SCRIPT = [
    {"tools": [("Bash", {"command": PLANT})]},
    {"tools": READS},
    {"content": "Done."},
]


def plant_and_read(tenants: Tenants) -> tuple[list[str], str]:
    at = targets(tenants)
    replies = tenants.harness.llm.replies
    for reply in replies[:2]:
        reply["tools"] = [(name, {k: aimed(v, at) if isinstance(v, str) else v
                                  for k, v in args.items()})
                          for name, args in reply["tools"]]  # fmt: skip
    out = tenants.harness.run("turn", text="plant and read")
    calls = [c for m in out["messages"] for c in m.get("toolCalls") or []]
    return [str(c["result"]) for c in calls], out["session"]["id"]


@pytest.mark.parametrize("script", [SCRIPT])
def test_a_planted_symlink_is_followed_by_no_server_side_read(tenants: Tenants) -> None:
    results, sid = plant_and_read(tenants)
    assert "planted" in results[0] and "leak.txt ->" in results[0]  # the links exist
    assert not [r for r in results if SECRET in r], results
    with tenants.native() as http:
        assert SECRET not in http.get(f"/v1/sessions/{sid}/files/leak.txt").text
        assert SECRET not in http.get(f"/v1/sessions/{sid}/files/deep/leak.md").text
        listed = http.get(f"/v1/sessions/{sid}/files").json()
        assert SECRET not in str(listed)
        exported = http.get(f"/v1/sessions/{sid}/export", params={"files": "inline"})
        assert exported.status_code == 200 and SECRET not in exported.text
        assert SECRET.encode() not in tar_bytes(http, sid)
        fork = http.post(f"/v1/sessions/{sid}/fork", json={}).json()["id"]
        forked: Any = http.get(f"/v1/sessions/{fork}/files/leak.txt")
        assert SECRET not in forked.text


def tar_bytes(http: httpx.Client, sid: str) -> bytes:
    import gzip

    answer = http.get(f"/v1/sessions/{sid}/export.tar.gz")
    assert answer.status_code == 200, answer.text
    return gzip.decompress(answer.content)
