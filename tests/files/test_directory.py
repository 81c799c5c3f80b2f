from __future__ import annotations

import io
import os
import tarfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sessionhub.domain.errors import Invalid, NotFound, PathNotAllowed, TooLarge
from sessionhub.files import SessionFiles

pytestmark = pytest.mark.anyio

LIMIT = 64
WS = "ws1"
SID = "s1"
PAST = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def files(tmp_path: Path) -> SessionFiles:
    return SessionFiles(tmp_path / "root", max_file_bytes=LIMIT)


@pytest.fixture
def session_dir(files: SessionFiles) -> Path:
    directory = files.directory(WS, SID)
    directory.mkdir(parents=True)
    return directory


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the root holding data that must never be read or changed."""
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / "secret.txt").write_bytes(b"secret")
    return directory


async def stream(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def read(files: SessionFiles, path: str) -> bytes:
    return await read_other(files, SID, path)


def set_mtime(path: Path, moment: datetime) -> None:
    ns = int(moment.timestamp()) * 10**9 + moment.microsecond * 1000
    os.utime(path, ns=(ns, ns), follow_symlinks=False)


# -- round trips -------------------------------------------------------------------


async def test_create_write_list_read_delete(files: SessionFiles) -> None:
    await files.create(WS, SID)
    await files.create(WS, SID)  # idempotent
    assert files.directory(WS, SID).is_dir()

    written = await files.write(WS, SID, "notes.txt", stream(b"hel", b"lo"))

    assert (written.path, written.size) == ("notes.txt", 5)
    assert await files.list(WS, SID) == [written]
    assert await read(files, "notes.txt") == b"hello"

    await files.delete(WS, SID, "notes.txt")

    assert await files.list(WS, SID) == []
    assert files.directory(WS, SID).is_dir()
    with pytest.raises(NotFound):
        await files.open_existing(WS, SID, "notes.txt")


async def test_write_reports_the_mtime_list_shows(files: SessionFiles) -> None:
    written = await files.write(WS, SID, "a.txt", stream(b"x"))
    (listed,) = await files.list(WS, SID)
    assert listed.modified_at == written.modified_at
    assert listed.modified_at.tzinfo is not None


async def test_write_creates_parents_and_list_is_sorted_and_recursive(
    files: SessionFiles,
) -> None:
    for path in ("b.txt", "a/z.txt", "a/b/c.txt"):
        await files.write(WS, SID, path, stream(path.encode()))

    listed = await files.list(WS, SID)

    assert [item.path for item in listed] == ["a/b/c.txt", "a/z.txt", "b.txt"]
    assert await read(files, "a/b/c.txt") == b"a/b/c.txt"


async def test_delete_prunes_empty_parents_up_to_the_session_dir(files: SessionFiles) -> None:
    await files.write(WS, SID, "a/b/c.txt", stream(b"1"))
    await files.write(WS, SID, "a/z.txt", stream(b"2"))
    root = files.directory(WS, SID)

    await files.delete(WS, SID, "a/b/c.txt")
    assert not (root / "a" / "b").exists()
    assert (root / "a" / "z.txt").is_file()

    await files.delete(WS, SID, "a/z.txt")
    assert not (root / "a").exists()
    assert root.is_dir()


async def test_write_replaces_an_existing_file(files: SessionFiles) -> None:
    await files.write(WS, SID, "a.txt", stream(b"old content"))
    written = await files.write(WS, SID, "a.txt", stream(b"new"))
    assert written.size == 3
    assert await read(files, "a.txt") == b"new"
    assert os.listdir(files.directory(WS, SID)) == ["a.txt"]


async def test_large_write_in_many_chunks(tmp_path: Path) -> None:
    files = SessionFiles(tmp_path, max_file_bytes=2 * 1024 * 1024)
    data = os.urandom(1024 * 1024 + 7)
    chunks = [data[i : i + 10_000] for i in range(0, len(data), 10_000)]

    written = await files.write(WS, SID, "big.bin", stream(*chunks))

    assert written.size == len(data)
    assert await read(files, "big.bin") == data


async def test_empty_write_creates_an_empty_file(files: SessionFiles) -> None:
    written = await files.write(WS, SID, "empty", stream())
    assert written.size == 0
    assert await read(files, "empty") == b""


# -- size limit ----------------------------------------------------------------------


async def test_exactly_the_limit_is_accepted(files: SessionFiles) -> None:
    written = await files.write(WS, SID, "a.bin", stream(b"x" * (LIMIT - 1), b"y"))
    assert written.size == LIMIT


async def test_one_byte_over_the_limit_fails_and_leaves_nothing(files: SessionFiles) -> None:
    pulled: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for index, part in enumerate((b"x" * LIMIT, b"y", b"never read")):
            pulled.append(index)
            yield part

    with pytest.raises(TooLarge):
        await files.write(WS, SID, "d/a.bin", chunks())

    assert pulled == [0, 1]  # stopped at the first byte over, not at the end
    assert os.listdir(files.directory(WS, SID) / "d") == []
    assert await files.list(WS, SID) == []


async def test_too_large_keeps_the_previous_version(files: SessionFiles) -> None:
    await files.write(WS, SID, "a.txt", stream(b"keep me"))
    with pytest.raises(TooLarge):
        await files.write(WS, SID, "a.txt", stream(b"z" * (LIMIT + 1)))
    assert await read(files, "a.txt") == b"keep me"
    assert os.listdir(files.directory(WS, SID)) == ["a.txt"]


async def test_a_failing_stream_removes_the_temp_file(files: SessionFiles) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"partial"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await files.write(WS, SID, "a.txt", broken())
    assert os.listdir(files.directory(WS, SID)) == []


# -- path safety ---------------------------------------------------------------------

BAD_PATHS = [
    "",
    "../x",
    "/etc/passwd",
    "a/../../x",
    "a/..",
    "..",
    ".",
    "./a",
    "a/./b",
    "a\\b",
    "..\\x",
    "a\x00b",
    "a\nb",
    "a//b",
    "a/",
    "x" * 1025,
    "a/" + "x" * 256,
    "\ud800",
    ".sessionhub-tmp-abc.part",
]


@pytest.mark.parametrize("path", BAD_PATHS)
async def test_bad_paths_are_rejected_on_write(
    files: SessionFiles, session_dir: Path, path: str
) -> None:
    with pytest.raises(PathNotAllowed):
        await files.write(WS, SID, path, stream(b"x"))
    assert sorted(p.name for p in files.directory(WS, "x").parent.iterdir()) == [SID]
    assert list(session_dir.iterdir()) == []


@pytest.mark.parametrize("path", BAD_PATHS)
async def test_bad_paths_are_rejected_on_read_and_delete(
    files: SessionFiles, session_dir: Path, path: str
) -> None:
    with pytest.raises(PathNotAllowed):
        await files.open_existing(WS, SID, path)
    with pytest.raises(PathNotAllowed):
        await files.delete(WS, SID, path)


async def test_traversal_does_not_reach_a_sibling_session(files: SessionFiles) -> None:
    await files.write(WS, "other", "secret.txt", stream(b"other session"))
    with pytest.raises(PathNotAllowed):
        await files.open_existing(WS, SID, "../other/secret.txt")
    with pytest.raises(PathNotAllowed):
        await files.delete(WS, SID, "a/../../other/secret.txt")
    assert (files.directory(WS, "other") / "secret.txt").read_bytes() == b"other session"


async def test_a_path_of_1024_bytes_is_allowed(files: SessionFiles) -> None:
    path = "/".join(["d" * 200] * 5) + "/" + "f" * 19
    assert len(path) == 1024
    written = await files.write(WS, SID, path, stream(b"ok"))
    assert written.path == path


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "a\\b", "../ws", "x" * 129, "a b"])
async def test_ids_must_be_single_safe_segments(files: SessionFiles, bad: str) -> None:
    with pytest.raises(Invalid):
        files.directory(bad, SID)
    with pytest.raises(Invalid):
        files.directory(WS, bad)
    with pytest.raises(Invalid):
        await files.remove(WS, bad)


async def test_writing_onto_a_directory_is_invalid(files: SessionFiles) -> None:
    await files.write(WS, SID, "d/a.txt", stream(b"1"))
    with pytest.raises(Invalid):
        await files.write(WS, SID, "d", stream(b"2"))
    with pytest.raises(Invalid):
        await files.write(WS, SID, "d/a.txt/b", stream(b"3"))
    assert await read(files, "d/a.txt") == b"1"


async def test_a_directory_is_not_an_existing_file(files: SessionFiles) -> None:
    await files.write(WS, SID, "d/a.txt", stream(b"1"))
    with pytest.raises(NotFound):
        await files.open_existing(WS, SID, "d")
    with pytest.raises(NotFound):
        await files.delete(WS, SID, "d")
    with pytest.raises(NotFound):
        await files.delete(WS, SID, "missing.txt")
    with pytest.raises(NotFound):
        await files.open_existing(WS, SID, "d/a.txt/deeper")


# -- symlinks ------------------------------------------------------------------------


@pytest.fixture
def links(session_dir: Path, outside: Path) -> Path:
    (session_dir / "out").symlink_to(outside)
    (session_dir / "secret-link").symlink_to(outside / "secret.txt")
    (session_dir / "dangling").symlink_to(outside / "created-by-attacker.txt")
    (session_dir / "relative").symlink_to("../../../outside/secret.txt")
    return session_dir


@pytest.mark.parametrize("path", ["out/secret.txt", "secret-link", "dangling", "relative"])
async def test_reading_through_a_symlink_out_is_rejected(
    files: SessionFiles, links: Path, path: str
) -> None:
    with pytest.raises(PathNotAllowed):
        await files.open_existing(WS, SID, path)


@pytest.mark.parametrize(
    "path", ["out/secret.txt", "out/new.txt", "out/sub/new.txt", "secret-link", "dangling"]
)
async def test_writing_through_a_symlink_out_is_rejected(
    files: SessionFiles, links: Path, outside: Path, path: str
) -> None:
    with pytest.raises(PathNotAllowed):
        await files.write(WS, SID, path, stream(b"overwritten"))
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == b"secret"


@pytest.mark.parametrize("path", ["out/secret.txt", "secret-link"])
async def test_deleting_through_a_symlink_out_is_rejected(
    files: SessionFiles, links: Path, outside: Path, path: str
) -> None:
    with pytest.raises(PathNotAllowed):
        await files.delete(WS, SID, path)
    assert (outside / "secret.txt").read_bytes() == b"secret"
    assert (links / "secret-link").is_symlink()


async def test_symlinks_never_appear_in_listings_or_exports(
    files: SessionFiles, links: Path
) -> None:
    await files.write(WS, SID, "real.txt", stream(b"mine"))

    assert [item.path for item in await files.list(WS, SID)] == ["real.txt"]
    assert [info.path async for info, _ in files.read_all(WS, SID)] == ["real.txt"]
    assert tar_contents(files) == {"files/real.txt": b"mine"}


async def test_cleanup_never_touches_files_outside(
    files: SessionFiles, links: Path, outside: Path
) -> None:
    set_mtime(outside / "secret.txt", datetime.now(UTC) + timedelta(days=1))

    removed = await files.remove_modified_after(WS, SID, PAST)
    assert removed == []
    await files.remove(WS, SID)

    assert not links.exists()
    assert (outside / "secret.txt").read_bytes() == b"secret"


async def test_a_symlink_inside_the_directory_can_be_followed(
    files: SessionFiles, session_dir: Path
) -> None:
    await files.write(WS, SID, "data/real.txt", stream(b"real"))
    (session_dir / "alias.txt").symlink_to("data/real.txt")

    assert await read(files, "alias.txt") == b"real"
    await files.write(WS, SID, "alias.txt", stream(b"updated"))
    assert await read(files, "data/real.txt") == b"updated"

    await files.delete(WS, SID, "alias.txt")  # removes the link, not its target
    assert not (session_dir / "alias.txt").is_symlink()
    assert await read(files, "data/real.txt") == b"updated"


async def test_a_symlink_to_the_session_dir_itself_is_rejected(
    files: SessionFiles, session_dir: Path
) -> None:
    (session_dir / "self").symlink_to(".")
    with pytest.raises(PathNotAllowed):
        await files.write(WS, SID, "self", stream(b"x"))


async def test_a_symlink_loop_is_rejected(files: SessionFiles, session_dir: Path) -> None:
    (session_dir / "loop").symlink_to("loop")
    with pytest.raises(PathNotAllowed):
        await files.open_existing(WS, SID, "loop")
    with pytest.raises(PathNotAllowed):
        await files.write(WS, SID, "loop/x", stream(b"x"))


async def test_special_and_unaddressable_files_are_not_listed(
    files: SessionFiles, session_dir: Path
) -> None:
    os.mkfifo(session_dir / "pipe")
    (session_dir / "back\\slash.txt").write_bytes(b"x")
    await files.write(WS, SID, "ok.txt", stream(b"ok"))

    assert [item.path for item in await files.list(WS, SID)] == ["ok.txt"]
    with pytest.raises(NotFound):
        await files.open_existing(WS, SID, "pipe")


# -- remove, copy, rewind ------------------------------------------------------------


async def test_remove_is_idempotent(files: SessionFiles) -> None:
    await files.write(WS, SID, "a/b.txt", stream(b"x"))
    await files.write(WS, "keep", "c.txt", stream(b"y"))

    await files.remove(WS, SID)
    await files.remove(WS, SID)
    await files.remove(WS, "never-created")

    assert not files.directory(WS, SID).exists()
    assert await read_other(files, "keep", "c.txt") == b"y"


async def read_other(files: SessionFiles, session_id: str, path: str) -> bytes:
    opened = await files.open_existing(WS, session_id, path)
    with opened.handle:
        return opened.handle.read()


async def test_list_of_a_missing_directory_is_empty(files: SessionFiles) -> None:
    assert await files.list(WS, "nothing-here") == []
    assert [item async for item in files.read_all(WS, "nothing-here")] == []


async def test_copy_keeps_contents_and_mtimes(files: SessionFiles) -> None:
    await files.write(WS, "src", "a.txt", stream(b"alpha"))
    await files.write(WS, "src", "d/e/b.bin", stream(b"\x00\x01"))
    set_mtime(files.directory(WS, "src") / "a.txt", PAST)

    await files.copy(WS, "src", "fork")

    assert await files.list(WS, "fork") == await files.list(WS, "src")
    assert (await files.list(WS, "fork"))[0].modified_at == PAST
    assert await read_other(files, "fork", "d/e/b.bin") == b"\x00\x01"

    await files.write(WS, "fork", "a.txt", stream(b"changed"))
    assert await read_other(files, "src", "a.txt") == b"alpha"


async def test_copy_of_a_session_without_files(files: SessionFiles) -> None:
    await files.copy(WS, "src", "fork")
    assert files.directory(WS, "fork").is_dir()
    assert await files.list(WS, "fork") == []


async def test_copy_onto_itself_is_invalid(files: SessionFiles) -> None:
    with pytest.raises(Invalid):
        await files.copy(WS, SID, SID)


async def test_copy_does_not_follow_symlinks_out(
    files: SessionFiles, links: Path, outside: Path
) -> None:
    os.mkfifo(links / "pipe")  # would block a naive copy forever
    await files.write(WS, SID, "real.txt", stream(b"mine"))

    await files.copy(WS, SID, "fork")

    fork = files.directory(WS, "fork")
    assert (fork / "secret-link").is_symlink()
    assert (fork / "out").is_symlink()
    assert not (fork / "pipe").exists()
    assert [item.path for item in await files.list(WS, "fork")] == ["real.txt"]
    with pytest.raises(PathNotAllowed):
        await files.open_existing(WS, "fork", "secret-link")


async def test_remove_modified_after_removes_only_newer_files(files: SessionFiles) -> None:
    moment = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    stamps = {
        "old.txt": moment - timedelta(seconds=10),
        "same.txt": moment,
        "new.txt": moment + timedelta(seconds=10),
        "d/newer.txt": moment + timedelta(microseconds=1),
        "keep/old.txt": moment - timedelta(days=1),
    }
    for path, stamp in stamps.items():
        await files.write(WS, SID, path, stream(b"x"))
        set_mtime(files.directory(WS, SID) / path, stamp)

    removed = await files.remove_modified_after(WS, SID, moment)

    assert removed == ["d/newer.txt", "new.txt"]
    assert [item.path for item in await files.list(WS, SID)] == [
        "keep/old.txt",
        "old.txt",
        "same.txt",
    ]
    assert not (files.directory(WS, SID) / "d").exists()


async def test_remove_modified_after_takes_a_naive_moment_as_utc(files: SessionFiles) -> None:
    await files.write(WS, SID, "a.txt", stream(b"x"))
    set_mtime(files.directory(WS, SID) / "a.txt", PAST)

    naive_before = (PAST - timedelta(seconds=1)).replace(tzinfo=None)
    assert await files.remove_modified_after(WS, SID, naive_before) == ["a.txt"]


async def test_remove_modified_after_on_a_missing_dir(files: SessionFiles) -> None:
    assert await files.remove_modified_after(WS, SID, PAST) == []


# -- export and import ---------------------------------------------------------------


async def test_restore_then_read_all(files: SessionFiles) -> None:
    payload = bytes(range(LIMIT))
    await files.restore(
        WS, SID, [("a.txt", b"alpha", PAST), ("d/b.bin", payload, None), ("empty", b"", None)]
    )

    exported = [(info, data) async for info, data in files.read_all(WS, SID)]

    assert [(info.path, info.size, data) for info, data in exported] == [
        ("a.txt", 5, b"alpha"),
        ("d/b.bin", LIMIT, payload),
        ("empty", 0, b""),
    ]
    assert exported[0][0].modified_at == PAST
    assert exported[1][0].modified_at > PAST


async def test_restore_checks_paths_and_sizes(files: SessionFiles, tmp_path: Path) -> None:
    with pytest.raises(PathNotAllowed):
        await files.restore(WS, SID, [("../escape.txt", b"x", None)])
    with pytest.raises(TooLarge):
        await files.restore(WS, SID, [("big", b"x" * (LIMIT + 1), None)])
    assert not (tmp_path / "root" / WS / "escape.txt").exists()
    assert await files.list(WS, SID) == []


def tar_contents(files: SessionFiles, arcprefix: str = "files/") -> dict[str, bytes]:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        files.add_to_tar(tar, WS, SID, arcprefix)
    buffer.seek(0)
    with tarfile.open(fileobj=buffer, mode="r:gz") as tar:
        members = tar.getmembers()
        assert all(member.isreg() for member in members)
        return {m.name: tar.extractfile(m).read() for m in members}  # type: ignore[union-attr]


async def test_add_to_tar(files: SessionFiles) -> None:
    await files.restore(WS, SID, [("a.txt", b"alpha", PAST), ("d/b.txt", b"beta", None)])

    assert tar_contents(files) == {"files/a.txt": b"alpha", "files/d/b.txt": b"beta"}
    assert tar_contents(files, "export/s1/") == {
        "export/s1/a.txt": b"alpha",
        "export/s1/d/b.txt": b"beta",
    }


async def test_add_to_tar_records_mtime_but_not_the_owner(files: SessionFiles) -> None:
    await files.restore(WS, SID, [("a.txt", b"alpha", PAST)])
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        files.add_to_tar(tar, WS, SID)
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as tar:
        (member,) = tar.getmembers()
    assert member.mtime == pytest.approx(PAST.timestamp())
    assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "", "")


async def test_add_to_tar_of_a_missing_dir_adds_nothing(files: SessionFiles) -> None:
    assert tar_contents(files) == {}


def test_a_directory_swapped_for_a_symlink_after_the_check_is_not_followed(
    tmp_path: Path,
) -> None:
    """The session's own code may swap a checked directory for a symlink before the
    server opens the file: the open walks the real path without following one."""
    from sessionhub.files import _fs

    base, elsewhere = tmp_path / "session", tmp_path / "other-tenant"
    (base / "a").mkdir(parents=True)
    (base / "a" / "b.txt").write_text("mine")
    (elsewhere / "a").mkdir(parents=True)
    (elsewhere / "a" / "b.txt").write_text("theirs")
    opened = _fs.open_beneath(base, "a/b.txt")
    assert opened is not None and opened.read() == b"mine"
    opened.close()
    (base / "a" / "b.txt").unlink()
    (base / "a").rmdir()
    (base / "a").symlink_to(elsewhere / "a")  # the swap, after a check saw a directory
    assert _fs.open_beneath(base, "a/b.txt") is None
    (base / "c.txt").symlink_to(elsewhere / "a" / "b.txt")
    assert _fs.open_beneath(base, "c.txt") is None
