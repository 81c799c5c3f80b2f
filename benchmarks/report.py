"""The comparison table and the target checks."""

from __future__ import annotations

import json
import shutil

from common import Json, Plan, count_label

# A load figure is starred when other processes (not the server, not the load generator)
# used more than this share of a core while it was measured. PostgreSQL's own backends
# count as "other", so PG figures are starred more readily.
BUSY_PCT = 50.0


def fmt_cell(r: Json | None) -> str:
    if r is None:
        return "—"
    if "na" in r:
        return f"n/a ({r['na']})"
    if "error" in r:
        return "error: " + str(r["error"]).splitlines()[0][:60]
    if r.get("kind") == "export":
        return (
            f"{r['seconds']:.2f} s, {r['bytes'] / 2**20:.0f} MB\n"
            f"anon RSS {r['rss_before_mb']:.0f}→{r['rss_peak_mb']:.0f} MB"
        )
    if r.get("kind") == "timed":
        return f"{r['p50_ms']:.1f} ms\n(n={r['n']}, max {r['max_ms']:.1f})"
    if "concurrency" in r:
        err = f"\n{r['errors']} errors" if r.get("errors") else ""
        busy = " *" if (r.get("other_cpu_pct") or 0) > BUSY_PCT else ""
        present = f"\n({r['sessions_present']:,} sessions)" if "sessions_present" in r else ""
        return (
            f"{r['rps']:,.0f}/s{busy}\np50 {r['p50_ms']:.2f} p99 {r['p99_ms']:.2f} ms{err}{present}"
        )
    if "p50_ms" in r:  # ADK single calls repeated
        return f"{r['p50_ms']:.1f} ms\n(n={r['n']}, max {r['p99_ms']:.1f})"
    return json.dumps(r)[:60]


def rows(plan: Plan) -> list[tuple[str, str | None, str | None, str | None]]:
    """(label, sessionhub key, ADK key, hello key)."""
    s, e, x = count_label(plan.sessions), count_label(plan.events), count_label(plan.export_events)
    out: list[tuple[str, str | None, str | None, str | None]] = [
        ("create session, c=1", "create_c1", "create_c1", "hello_c1"),
        ("create session, c=50", "create_c50", "create_c50", "hello_c50"),
        ("get session, c=1", "get_c1", None, "hello_c1"),
        ("get session, c=50", "get_c50", None, "hello_c50"),
        ("append event, c=1", "append_c1", "append_c1", "hello_c1"),
        ("append event, c=50 over 50 sessions", "append_c50", "append_c50", "hello_c50"),
        ("append event, c=50 on 1 session", "append_c50_one", None, "hello_c50"),
        (f"list first page (50) @{s} sessions, c=1 [ADK: unpaged list]", f"list_{s}",
         "list_sessions", "hello_c1"),
    ]  # fmt: skip
    if plan.big_sessions:
        b = count_label(plan.big_sessions)
        out.append((f"list first page (50) @{b} sessions, c=1", f"list_{b}", None, "hello_c1"))
    out += [
        (f"tail-50 @{e} events, c=1", f"tail_{e}", None, "hello_c1"),
    ]
    if plan.big_events:
        b = count_label(plan.big_events)
        out.append((f"tail-50 @{b} events, c=1", f"tail_{b}", None, "hello_c1"))
    out.append(
        (f"get session @{e} events, c=1 [ADK: get_session loads all]", f"get_at_{e}",
         "get_session_events", "hello_c1"),
    )  # fmt: skip
    if plan.big_events:
        b = count_label(plan.big_events)
        out.append((f"get session @{b} events, c=1", f"get_at_{b}", None, "hello_c1"))
    out += [
        (f"fork @{e} events", f"fork_{e}", None, None),
        (f"rewind @{e} events (to event 1)", f"rewind_{e}", None, None),
        (f"export @{x} events (streamed JSON)", f"export_{x}", None, None),
    ]  # fmt: skip
    return out


def ratio_checks(plan: Plan, results: Json) -> list[Json]:
    checks: list[Json] = []

    def get(db: str, who: str, key: str) -> Json | None:
        r = results.get(db, {}).get(who, {})
        v = r.get(key) if isinstance(r, dict) else None
        return v if isinstance(v, dict) and "error" not in v and "na" not in v else None

    for db, target in (("sqlite", 20.0), ("postgres", 10.0)):
        if db not in results:
            continue
        sh, adk = get(db, "sessionhub", "append_c50"), get(db, "adk", "append_c50")
        checks.append(
            {
                "check": f"{db}: append c=50, sessionhub ÷ ADK",
                "value": round(sh["rps"] / adk["rps"], 1) if sh and adk else None,
                "target": f"≥ {target:.0f}x",
                "pass": (sh["rps"] / adk["rps"] >= target) if sh and adk else None,
            }
        )
        for key in ("append_c50", "append_c50_one"):
            r = get(db, "sessionhub", key)
            checks.append(
                {
                    "check": f"{db}: {key} p99",
                    "value": round(r["p99_ms"], 1) if r else None,
                    "target": "< 50 ms",
                    "pass": (r["p99_ms"] < 50) if r else None,
                }
            )
        for what, prefix, small, big in (
            ("tail-50", "tail", plan.events, plan.big_events),
            ("list page", "list", plan.sessions, plan.big_sessions),
        ):
            a = get(db, "sessionhub", f"{prefix}_{count_label(small)}")
            b = get(db, "sessionhub", f"{prefix}_{count_label(big)}") if big else None
            checks.append(
                {
                    "check": f"{db}: {what} p50 flatness {count_label(small)}→"
                    f"{count_label(big) if big else '1M'}",
                    "value": round(b["p50_ms"] / a["p50_ms"], 2) if a and b else None,
                    "target": "≤ 1.2x",
                    "pass": (b["p50_ms"] / a["p50_ms"] <= 1.2) if a and b else None,
                    **({} if big else {"note": "run with --big"}),
                }
            )
        hello = results.get("hello", {})
        sh = get(db, "sessionhub", "append_c50")
        if sh and isinstance(hello.get("hello_c50"), dict) and "rps" in hello["hello_c50"]:
            checks.append(
                {
                    "check": f"{db}: append c=50 ÷ hello-world GET c=50",
                    "value": round(sh["rps"] / hello["hello_c50"]["rps"], 2),
                    "target": "(information)",
                    "pass": None,
                }
            )
    return checks


def print_report(plan: Plan, results: Json, checks: list[Json], dbs: list[str]) -> None:
    cols: list[tuple[str, str, str]] = []
    for db in dbs:
        label = "SQLite" if db == "sqlite" else "PG"
        cols.append((f"sessionhub {label}", db, "sessionhub"))
        cols.append((f"ADK {label}", db, "adk"))
    headers = ["operation", *(c[0] for c in cols), "hello-world ceiling"]
    table: list[list[str]] = []
    for label, sh_key, adk_key, hello_key in rows(plan):
        line = [label]
        for _, db, who in cols:
            key = sh_key if who == "sessionhub" else adk_key
            ops = results.get(db, {}).get(who, {})
            if key is None:
                line.append("—")
            elif isinstance(ops, dict) and key not in ops and ("_server" in ops or "error" in ops):
                line.append(fmt_cell(ops.get("_server", ops)))
            else:
                line.append(fmt_cell(ops.get(key) if isinstance(ops, dict) else None))
        line.append(fmt_cell(results.get("hello", {}).get(hello_key)) if hello_key else "—")
        table.append(line)
    check_lines = footnotes(results)
    for c in checks:
        mark = {True: "PASS", False: "FAIL", None: "n/a"}[c["pass"]]
        value = "—" if c["value"] is None else c["value"]
        note = f"  ({c['note']})" if c.get("note") else ""
        check_lines.append(f"{mark:4}  {c['check']}: {value}  target {c['target']}{note}")
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print_plain(headers, table)
        print("\n".join(check_lines))
        return
    t = Table(title="sessionhub benchmark", show_lines=True)
    for h in headers:
        t.add_column(h, overflow="fold")
    for line in table:
        t.add_row(*line)
    console = Console(width=max(140, shutil.get_terminal_size().columns))
    console.print(t)
    for ln in check_lines:
        console.print(ln, highlight=False, markup=False)


def footnotes(results: Json) -> list[str]:
    loads = [
        r
        for target in results.values()
        for ops in (target.values() if "hello_c1" not in target else [target])
        if isinstance(ops, dict)
        for r in ops.values()
        if isinstance(r, dict) and "loadgen_cpu_pct" in r
    ]
    if not loads:
        return []
    tools = sorted({r["tool"] for r in loads})
    gen = max(r["loadgen_cpu_pct"] or 0 for r in loads)
    srv = max(r["server_cpu_pct"] or 0 for r in loads)
    return [
        f"load generator: {', '.join(tools)}; at most {gen:.0f}% of one core in any phase "
        f"(server process at most {srv:.0f}%)",
        f"* other processes used more than {BUSY_PCT:.0f}% of a core during that measurement "
        "(PostgreSQL backends count as other); the machine was shared",
    ]


def print_plain(headers: list[str], table: list[list[str]]) -> None:
    cells = [headers, *([c.replace("\n", " · ") for c in line] for line in table)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for i, r in enumerate(cells):
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        if i == 0:
            print("-+-".join("-" * w for w in widths))
