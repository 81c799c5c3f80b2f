"""``sessionhub sessions …``: sessions on a running server, through the Python client.

The client is built by a factory taken from ``ctx.obj`` when it holds a
:class:`CliOptions` (the root CLI or a test can inject one), else
:func:`default_client_factory`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Annotated, Any, Literal, cast

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from sessionhub.cli.errors import REFUSED, USAGE, fail
from sessionhub.cli.progress import CountingFile, EventCounter, export_progress, import_progress
from sessionhub.client import DEFAULT_BASE_URL, Client, SessionFilters, TransportError
from sessionhub.domain.errors import NotFound, SessionHubError
from sessionhub.domain.models import Event, Page, Session, SessionStatus

ClientFactory = Callable[[str, str | None], Client]
"""Builds a client from ``(url, api_key)``."""

app = typer.Typer(
    name="sessions",
    help="List, inspect, fork, rewind, export and import sessions on a running server.",
    no_args_is_help=True,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def default_client_factory(url: str, api_key: str | None) -> Client:
    return Client(base_url=url, api_key=api_key)


@dataclass(frozen=True)
class CliOptions:
    """What a caller may inject through ``ctx.obj``."""

    client_factory: ClientFactory = default_client_factory


@dataclass(frozen=True)
class _Target:
    url: str
    api_key: str | None
    client_factory: ClientFactory


@app.callback()
def main(
    ctx: typer.Context,
    url: Annotated[
        str, typer.Option("--url", envvar="SESSIONHUB_URL", help="Server base URL.")
    ] = DEFAULT_BASE_URL,
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", envvar="SESSIONHUB_API_KEY", help="API key (Bearer)."),
    ] = None,
) -> None:
    """Work with sessions on a running sessionhub server."""
    options = ctx.find_object(CliOptions) or CliOptions()
    ctx.obj = _Target(url=url, api_key=api_key, client_factory=options.client_factory)


Url = Annotated[
    str | None,
    typer.Option(
        "--url", help="Server base URL (SESSIONHUB_URL; also accepted before the command)."
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key", help="API key (SESSIONHUB_API_KEY; also accepted before the command)."
    ),
]


@contextmanager
def _connect(
    ctx: typer.Context, url: str | None = None, api_key: str | None = None
) -> Iterator[Client]:
    """A client for the command; an API error ends the command with its detail, exit 1.

    ``--url``/``--api-key`` given after the command win over those given before it
    (``sessionhub sessions --url … ls``), which win over the environment.
    """
    target = ctx.find_object(_Target)
    assert target is not None, "the sessions callback sets the target"
    try:
        with target.client_factory(url or target.url, api_key or target.api_key) as client:
            yield client
    except SessionHubError as exc:
        err.print(Text.assemble(("error: ", "bold red"), f"{exc.title}: {exc.detail}"))
        raise typer.Exit(1) from None


# -- rendering -----------------------------------------------------------------


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def _sessions_table(sessions: list[Session]) -> Table:
    table = Table(box=None, header_style="bold")
    table.add_column("ID", no_wrap=True)
    table.add_column("KIND")
    table.add_column("NAME / TITLE", overflow="fold")
    table.add_column("STATUS")
    table.add_column("EVENTS", justify="right")
    table.add_column("UPDATED", no_wrap=True)
    for s in sessions:
        label = s.name or s.title or ""
        if s.name and s.title:
            label = f"{s.name} · {s.title}"
        table.add_row(
            s.id, s.kind, Text(label), s.status.value, str(s.totals.events), _when(s.updated_at)
        )
    return table


def _session_panel(s: Session) -> Table:
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="bold")
    fields.add_column(overflow="fold")
    rows: list[tuple[str, str | None]] = [
        ("id", s.id),
        ("kind", s.kind),
        ("name", s.name),
        ("title", s.title),
        ("status", s.status.value),
        ("parent", s.parent_id),
        ("forked from", s.forked_from and f"{s.forked_from} @ {s.forked_at_event or 'end'}"),
        ("version", str(s.version)),
        ("last seq", str(s.last_seq)),
        ("created", _when(s.created_at)),
        ("updated", _when(s.updated_at)),
        ("expires", _when(s.expires_at) if s.expires_at else None),
        ("metadata", json.dumps(s.metadata) if s.metadata else None),
        ("attributes", json.dumps(s.attributes) if s.attributes else None),
    ]
    for label, value in rows:
        if value is not None:
            fields.add_row(label, Text(value))
    t = s.totals
    totals = Table(title="totals", box=None, header_style="bold")
    for name in ("events", "messages", "tool calls", "tokens in", "tokens out", "cost", "ms"):
        totals.add_column(name, justify="right")
    totals.add_row(
        *map(str, (t.events, t.messages, t.tool_calls, t.input_tokens, t.output_tokens)),
        f"{t.cost:.4f}",
        str(t.duration_ms),
    )
    layout = Table.grid()
    layout.add_row(Panel(fields, title=f"session {s.id}", title_align="left"))
    layout.add_row(totals)
    for title, counts in (("by type", t.by_type), ("by role", t.by_role)):
        if counts:
            layout.add_row(Text(f"{title}: " + ", ".join(f"{k}={v}" for k, v in counts.items())))
    return layout


def _event_line(event: Event, width: int | None) -> Text:
    """``seq id time type role payload``: the id whole (``fork --at``, ``rewind --to``
    take it); on a terminal the payload is cut at its width, in a pipe never."""
    payload = json.dumps(event.payload, ensure_ascii=False, separators=(",", ":"))
    role = event.role.value if event.role else "-"
    line = Text.assemble(
        (f"{event.seq:>6} ", "cyan"),
        (f"{event.id} ", "green"),
        (f"{_when(event.created_at)} ", "dim"),
        (f"{event.type:<14} ", "bold"),
        f"{role:<10} ",
        payload,
    )
    if width is not None:
        line.truncate(max(width, len(event.id) + 40), overflow="ellipsis")
    return line


def _print_event(event: Event, as_json: bool) -> None:
    if as_json:
        typer.echo(event.model_dump_json())
    else:
        width = out.width if out.is_terminal else None
        out.print(_event_line(event, width), soft_wrap=True, crop=False)


def _parse_metadata(pairs: list[str]) -> dict[str, str]:
    metadata: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--metadata")
        metadata[key] = value
    return metadata


# -- commands --------------------------------------------------------------------


@app.command("ls")
def list_sessions(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    status: Annotated[SessionStatus | None, typer.Option(help="Only this status.")] = None,
    name: Annotated[str | None, typer.Option(help="Only this name.")] = None,
    parent: Annotated[str | None, typer.Option(help="Only children of this session.")] = None,
    all_pages: Annotated[bool, typer.Option("--all-pages", help="Fetch every page.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Page size.")] = 50,
    cursor: Annotated[str | None, typer.Option(help="Start at this page cursor.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """List sessions, newest first."""
    filters = SessionFilters(limit=limit)
    if kind is not None:
        filters["kind"] = kind
    if status is not None:
        filters["status"] = status
    if name is not None:
        filters["name"] = name
    if parent is not None:
        filters["parent_id"] = parent
    with _connect(ctx, url, api_key) as client:
        if all_pages:
            page = Page[Session](items=list(client.iter_sessions(**filters)))
        else:
            page = client.list_sessions(cursor=cursor, **filters)
    if as_json:
        typer.echo(page.model_dump_json(indent=2))
        return
    out.print(_sessions_table(page.items))
    if page.next_cursor:
        err.print(f"more: --cursor {page.next_cursor} (or --all-pages)", style="dim")


@app.command("show")
def show(
    ctx: typer.Context,
    session_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Show one session with its totals."""
    with _connect(ctx, url, api_key) as client:
        session = client.get_session(session_id)
    if as_json:
        typer.echo(session.model_dump_json(indent=2))
    else:
        out.print(_session_panel(session))


@app.command("create")
def create(
    ctx: typer.Context,
    kind: Annotated[str, typer.Option(help="Session kind (its driver).")] = "generic",
    name: Annotated[str | None, typer.Option(help="A unique name per kind.")] = None,
    title: Annotated[str | None, typer.Option(help="A title.")] = None,
    parent: Annotated[str | None, typer.Option(help="Parent session id.")] = None,
    metadata: Annotated[
        list[str] | None, typer.Option("--metadata", "-m", help="KEY=VALUE; repeatable.")
    ] = None,
    ttl: Annotated[int | None, typer.Option(min=1, help="Expire after SECONDS.")] = None,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Create a session and print its id."""
    meta = _parse_metadata(metadata or [])
    with _connect(ctx, url, api_key) as client:
        session = client.create_session(
            kind=kind, name=name, title=title, parent_id=parent, metadata=meta, ttl_seconds=ttl
        )
    typer.echo(session.id)


@app.command("rm")
def remove(
    ctx: typer.Context,
    session_id: Annotated[str, typer.Argument(metavar="ID")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Delete a session with its child sessions, events and files."""
    if not yes:
        typer.confirm(
            f"Delete session {session_id} with its children, events and files?", abort=True
        )
    with _connect(ctx, url, api_key) as client:
        client.delete_session(session_id)
    err.print(f"deleted {session_id}")


@app.command("fork")
def fork(
    ctx: typer.Context,
    session_id: Annotated[str, typer.Argument(metavar="ID")],
    at: Annotated[str | None, typer.Option("--at", help="Fork at this event id.")] = None,
    message: Annotated[
        int | None,
        typer.Option("--message", min=0, help="Fork after this message (its number, from 0)."),
    ] = None,
    title: Annotated[str | None, typer.Option(help="Title of the fork.")] = None,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Fork a session (at an event, after a message, or at its end) and print the new id."""
    with _connect(ctx, url, api_key) as client:
        session = client.fork_session(
            session_id, at_event_id=at, message_index=message, title=title
        )
    typer.echo(session.id)


@app.command("rewind")
def rewind(
    ctx: typer.Context,
    session_id: Annotated[str, typer.Argument(metavar="ID")],
    to: Annotated[str | None, typer.Option("--to", help="Keep events up to this event id.")] = None,
    message: Annotated[
        int | None,
        typer.Option("--message", min=0, help="Keep messages up to this one (from 0)."),
    ] = None,
    cleanup_files: Annotated[
        bool, typer.Option("--cleanup-files", help="Also remove files written later.")
    ] = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Delete the events after an event (--to) or after a message (--message)."""
    if (to is None) == (message is None):
        raise typer.BadParameter("give one of --to and --message")
    with _connect(ctx, url, api_key) as client:
        result = client.rewind_session(
            session_id, to_event_id=to, message_index=message, cleanup_files=cleanup_files
        )
    point = to if to is not None else f"message {message}"
    files = f", {len(result.deleted_files)} files" if result.deleted_files else ""
    out.print(f"rewound {session_id} to {point}: deleted {result.deleted_events} events{files}")


def _check_output(path: Path) -> None:
    """Refuse a file that cannot be written before the server is asked for anything."""
    folder = path.parent
    if not folder.is_dir():
        fail(f"cannot write {path}: the folder {folder} does not exist; create it first", USAGE)
    if path.is_dir():
        fail(f"cannot write {path}: it is a folder; give --output a file name", USAGE)
    if not os.access(folder, os.W_OK | os.X_OK):
        fail(f"cannot write {path}: the folder {folder} is not writable", USAGE)


@contextmanager
def _atomic_output(path: Path) -> Iterator[IO[bytes]]:
    """Write next to ``path`` and move into place only when the write succeeded."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
        os.replace(tmp, path)
    finally:
        with suppress(FileNotFoundError):
            os.unlink(tmp)


@app.command("export")
def export(
    ctx: typer.Context,
    session_id: Annotated[str, typer.Argument(metavar="ID")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    files: Annotated[
        Literal["none", "inline"],
        typer.Option("--files", help="Inline session files as base64 (JSON export)."),
    ] = "none",
    tar: Annotated[
        bool, typer.Option("--tar", help="Write a .tar.gz (always includes files).")
    ] = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Export a session (events, metadata and optionally files) to a file."""
    _check_output(output)
    counter = EventCounter()
    with _connect(ctx, url, api_key) as client:
        events = client.get_session(session_id).totals.events
        with (
            export_progress(err, f"export {session_id}", events, None if tar else counter) as bar,
            _atomic_output(output) as file,
        ):
            if tar:
                size = client.download_export_tar(session_id, file, progress=bar)
            else:
                sink = cast(IO[bytes], CountingFile(file, counter))
                size = client.export_session_to(session_id, sink, files=files, progress=bar)
    if tar or counter.broken:  # events not counted in the bytes: say where the number is from
        said = f"{size} bytes (the session had {events} events when the export began)"
    else:
        said = f"{counter.count} events, {size} bytes"
    err.print(f"exported {session_id} to {output}: {said}")


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="JSON or .tar.gz")
    ],
    keep_ids: Annotated[
        bool, typer.Option("--keep-ids", help="Keep the session and event ids.")
    ] = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Import an export file and print the new session's id."""
    with (
        _connect(ctx, url, api_key) as client,
        import_progress(err, f"import {file.name}") as bars,
    ):
        session = client.import_session(
            file, keep_ids=keep_ids, progress=bars.upload, server_progress=bars.server
        )
    err.print(f"imported {file.name}: {session.totals.events} events")
    typer.echo(session.id)


@app.command("tail")
def tail(
    ctx: typer.Context,
    session_id: Annotated[str, typer.Argument(metavar="ID")],
    lines: Annotated[int, typer.Option("-n", "--lines", min=1, max=1000)] = 20,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Stream new events.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON event per line.")] = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Print the last events of a session; with --follow, keep printing new ones."""
    with _connect(ctx, url, api_key) as client:
        events = client.tail_events(session_id, limit=lines)
        for event in events:
            _print_event(event, as_json)
        if not follow:
            return
        since = events[-1].seq if events else 0
        try:
            with client.stream(session_id, since=since) as stream:
                for event in stream:
                    _print_event(event, as_json)
                    since = event.seq
        except KeyboardInterrupt:
            return
        _stream_ended(client, session_id, since)


def _stream_ended(client: Client, session_id: str, since: int) -> None:
    """The server closed a followed stream: say why as far as it can be told, exit 1."""
    resume = f"`tail -f` again resumes after seq {since}"
    try:
        client.get_session(session_id)
    except NotFound:
        fail(f"session {session_id} is gone (deleted); the stream ended")
    except TransportError:
        fail(f"the server went away (the stream ended, and it no longer answers); {resume}")
    fail(f"the server ended the stream (it stopped or restarted); {resume}", REFUSED)
