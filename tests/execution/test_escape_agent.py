"""Tenant escape through the agent: the attacker in workspace A makes the model run
commands with ``Bash`` (scripted fake provider) and a ``bash_script`` callback.

Each attack prints what it reached; the assertions say it reached nothing of the
server's or another tenant's. The boundary tests fail with ``SESSIONHUB_SANDBOX=none``
(environment aside: even unsandboxed, user code never gets the server's variables);
the limit tests guard the cgroups and rlimits, which apply in both modes.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from sessionhub.execution.limits import Cgroups
from tests.execution.conftest import MARKER, SECRET, Tenants, no_cgroup_left

HOST_TMP = f"/tmp/sessionhub-escape-{uuid.uuid4().hex}"
NET = """python3 -c "
import socket, sys
for port in map(int, sys.argv[1:]):
    s = socket.socket(); s.settimeout(1)
    try:
        s.connect(('127.0.0.1', port)); print(port, 'open')
    except OSError:
        print(port, 'closed')
" {ports}"""
PROC = ("ls -d /proc/[0-9]* | wc -l; cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' "
        "| grep -c SESSIONHUB_ || true")  # fmt: skip
FORK = ("timeout 5 bash -c 'for i in $(seq 300); do sleep 4 & done; wait' 2>&1 "
        "| grep -m1 -o 'Resource temporarily unavailable'; echo forked")  # fmt: skip
HOG = "python3 -c 'b = bytearray(700 * 1024 * 1024); print(\"allocated\")'; echo exit=$?"
DISK = "head -c 5000000 /dev/zero > big.bin; echo exit=$?; stat -c %s big.bin"
OWN = ("echo mine > own.txt && cat own.txt && python3 -c 'import pydantic, json; "
       "print(\"python-ok\", json.dumps(1))'")  # fmt: skip
SPY = "env; cat @VICTIM@ 2>&1; ls @DATA@ 2>&1; echo spied"


COMMANDS = [
    "env",
    "cat @VICTIM@ 2>&1; echo read-done",
    "ls -la @DATA@ 2>&1; ls -la @DB@ 2>&1; echo listed",
    f"echo pwn > @DATA@/pwned.txt; echo pwn > @TMP@/pwned.txt; echo pwn > {HOST_TMP}; echo wrote",
    NET.format(ports="@PORT@ 5432"),
    PROC, FORK, HOG, DISK, OWN,
]  # fmt: skip
ATTACK = [
    {"tools": [("Bash", {"command": c, "timeout": 30_000}) for c in COMMANDS]
              + [("Glob", {"pattern": "*.txt"})]},
    {"content": "Done."},
]  # fmt: skip


def targets(tenants: Tenants) -> dict[str, str]:
    """The attacker's targets on the host, known only once the server runs."""
    data = tenants.settings.data_dir
    db = tenants.settings.resolved_database_url.removeprefix("sqlite:///")
    return {"@VICTIM@": str(tenants.victim_file), "@DATA@": str(data), "@DB@": db,
            "@TMP@": str(data.parent), "@PORT@": str(tenants.port)}  # fmt: skip


def aimed(command: str, at: dict[str, str]) -> str:
    for token, value in at.items():
        command = command.replace(token, value)
    return command


def run_attack(tenants: Tenants) -> tuple[list[tuple[bool, str]], dict[str, Any], list[str]]:
    at = targets(tenants)
    replies = tenants.harness.llm.replies  # a copy of ATTACK's list, not of its replies
    replies[0] = {"tools": [(name, {k: aimed(v, at) if k == "command" else v
                                    for k, v in args.items()})
                            for name, args in replies[0]["tools"]]}  # fmt: skip
    spy = aimed(SPY, at)
    callbacks = [{"toolName": "Glob", "type": "bash_script", "name": "spy", "bashCommand": spy}]
    out = tenants.harness.run("turn", text="attack", callbacks=callbacks)
    message = out["messages"][1]
    results = [(c["isError"], c["result"]) for c in message["toolCalls"]]
    (spied,) = message["callbackResults"]
    return results, spied, out["files"]


@pytest.mark.parametrize("script", [ATTACK])
def test_the_agents_code_reaches_nothing_of_the_server_or_other_tenants(
    tenants: Tenants,
) -> None:
    results, spied, files = run_attack(tenants)
    env, victim, listing, writes, net, proc, fork, hog, disk, own, _ = (r for _, r in results)
    data = tenants.settings.data_dir
    processes, carrying = (int(n) for n in proc.split())
    held = {
        "no server variable or provider key in the environment":
            MARKER not in env and "SESSIONHUB_" not in env and "DATABASE" not in env,
        "workspace B's file unreadable by absolute path":
            SECRET not in victim and "read-done" in victim,
        "the database file and data dir invisible":
            "db.sqlite" not in listing and "No such file" in listing,
        "nothing written outside the session directory appears on the host":
            "wrote" in writes and not (data / "pwned.txt").exists()
            and not (data.parent / "pwned.txt").exists() and not Path(HOST_TMP).exists(),
        "the server's port and PostgreSQL unreachable":
            f"{tenants.port} closed" in net and "5432 closed" in net,
        "/proc shows only the sandbox's processes, none with the server's environment":
            processes < 10 and carrying == 0,
        "the callback sees its own variables only":
            "CALLBACK_TOOL_NAME=Glob" in spied["stdout"] and MARKER not in spied["stdout"]
            and SECRET not in spied["stdout"] and "SESSIONHUB_AGENT" not in spied["stdout"],
    }  # fmt: skip
    broken = [name for name, ok in held.items() if not ok]
    assert not broken, f"boundaries broken: {broken}"
    # positive controls: the session's own directory, Python with installed packages,
    # and a file the command wrote served by the files API
    assert own.splitlines()[:2] == ["mine", "python-ok 1"]
    assert "own.txt" in files
    limits(fork, hog, disk)
    with tenants.native() as http:  # the server kept answering throughout
        assert http.get("/v1/sessions").status_code == 200
    no_cgroup_left()


def limits(fork: str, hog: str, disk: str) -> None:
    """Process count and memory through cgroups (where this host lets us make them);
    the file size cap through RLIMIT_FSIZE."""
    if Cgroups.find().parents:
        assert "Resource temporarily unavailable" in fork and "forked" in fork
        assert "allocated" not in hog.splitlines() and "exit=137" in hog, hog
    assert "File size limit exceeded" in disk and "exit=153" in disk
    assert str(2 * 1024 * 1024) in disk.splitlines()  # the cap, not a byte more
