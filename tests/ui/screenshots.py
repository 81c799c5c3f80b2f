"""Regenerate docs/screenshots/*.png: the session list and each kind's session page,
on a throwaway server seeded the way the browser tests seed theirs.

Run it with ``scripts/screenshots`` (SQLite in a temporary directory, Debian's chromium).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from sessionhub.api.app import create_app
from sessionhub.config import Settings
from sessionhub.testing.fixtures import LiveServer
from tests.api.dialects.mix.fake_llm import FakeLLM
from tests.kinds.agent.conftest import TRANSCRIPT
from tests.ui.conftest import ARGS, CHROMIUM, UiHub, _seed, off_loop, sign_in
from tests.ui.test_transcripts import execute, kv, session, span, wait_for

SCRIPT = [
    {"content": "I'll look at the data first.",
     "tools": [("Write", {"file_path": "report.md", "content": "# Sales\n\nUp 12% on Q2.\n"})]},
    {"content": "Wrote **report.md**:\n\n| quarter | change |\n|---|---|\n| Q2 | +12% |\n\n"
                "Anything else?"},
]  # fmt: skip


CHART = """import struct, zlib
from IPython.display import Image, display

def png(width, height, pixel):
    rows = b"".join(b"\\0" + b"".join(pixel(x, y) for x in range(width)) for y in range(height))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    head = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")

bar = lambda x, y: bytes((31, 95, 191)) if x % 80 > 12 and 120 - y < sales[x // 80] * 120 // 160 else bytes((245, 246, 248))
display(Image(png(240, 120, bar)))"""


def seed(hub: UiHub) -> dict[str, str]:
    """One session of each kind; the ids of those to photograph."""
    with hub.api() as http:
        agent = http.post("/v1/sessions", json={"kind": "agent", "title": "Quarterly report"})
        aid = agent.json()["id"]
        http.post(f"/v1/sessions/{aid}/runs", json={"input": {"text": "Summarise Q2 sales"}})
        wait_for(lambda: session(http, aid)["status"] == "idle"
                 and session(http, aid)["totals"]["messages"] >= 3)  # fmt: skip
        child = {"kind": "agent", "title": "Research subagent", "parent_id": aid}
        sub = http.post("/v1/sessions", json=child).json()["id"]
        http.post(f"/v1/sessions/{sub}/events/batch", json={"events": TRANSCRIPT[:5]})
        kid = http.post("/v1/sessions", json={"kind": "kernel", "title": "Exploration"}).json()[
            "id"
        ]
        execute(http, kid, "import statistics\nsales = [120, 135, 151]\nstatistics.mean(sales)")
        execute(http, kid, CHART)
        execute(http, kid, "sales[7]")
        spans = [
            span("bbbbbbbbbbbbbbb1", "", "answer question", 0, 1800),
            span("bbbbbbbbbbbbbbb2", "bbbbbbbbbbbbbbb1", "retrieve documents", 50, 400),
            span("bbbbbbbbbbbbbbb3", "bbbbbbbbbbbbbbb1", "chat gpt-4o", 420, 1500,
                 gen_ai__usage__input_tokens={"intValue": "1830"},
                 gen_ai__usage__output_tokens={"intValue": "412"},
                 gen_ai__usage__cost={"doubleValue": 0.0131}),
            span("bbbbbbbbbbbbbbb4", "bbbbbbbbbbbbbbb3", "tool: calculator", 900, 1000),
            span("bbbbbbbbbbbbbbb5", "bbbbbbbbbbbbbbb1", "format answer", 1520, 1790),
        ]  # fmt: skip
        resource = [kv("session.id", {"stringValue": "support-thread-42"})]
        body = {"resourceSpans": [{"resource": {"attributes": resource},
                                   "scopeSpans": [{"scope": {"name": "app"}, "spans": spans}]}]}  # fmt: skip
        http.post("/v1/traces", json=body)
        tid = http.get("/v1/sessions", params={"kind": "trace"}).json()["items"][0]["id"]
        lease = {"kind": "machine", "title": "Training box", "attributes": {"machine_id": "tiny"}}
        mid = http.post("/v1/sessions", json=lease).json()["id"]
        http.post(f"/v1/sessions/{mid}/runs", json={"input": {}})
        wait_for(lambda: session(http, mid)["attributes"].get("url"))
    return {"agent": aid, "kernel": kid, "trace": tid, "machine": mid}


def shoot(hub: UiHub, ids: dict[str, str], out: Path) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_context(viewport={"width": 1280, "height": 900},
                                   base_url=hub.url).new_page()  # fmt: skip
        sign_in(page, hub.key)
        page.screenshot(path=out / "list.png", full_page=True)
        for kind, sid in ids.items():
            page.goto(f"/ui/sessions/{sid}")
            page.screenshot(path=out / f"{kind}.png", full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto("/ui")
        page.screenshot(path=out / "list-390.png", full_page=True)
        browser.close()


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, FakeLLM(SCRIPT) as llm:
        settings = Settings(
            data_dir=Path(tmp) / "data", database_url=f"sqlite:///{tmp}/db.sqlite",
            log_format="text", log_level="WARNING", agent_base_url=llm.url,
            agent_model="fake-model", agent_api_key="sk-fake",
        )  # fmt: skip
        settings.data_dir.mkdir(parents=True)
        key, other = off_loop(_seed(settings.resolved_database_url))
        with LiveServer(create_app(settings)) as server:
            hub = UiHub(server.url, key, other, llm, settings)
            ids = seed(hub)
            shoot(hub, ids, out)
            with hub.api() as http:
                http.post(f"/v1/sessions/{ids['machine']}/cancel")
                wait_for(lambda: session(http, ids["machine"])["attributes"].get("end_time"))
    print(f"screenshots written to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
