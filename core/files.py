"""The user's files: read only regular files, within a size limit; write atomically.

Reading. A FIFO blocks open() forever, a device (/dev/zero) never ends, a folder is no file:
all are refused before anything is read. The path is checked with stat() first, then opened
non-blocking (so a file swapped for a FIFO in between cannot hang us) and checked again on the
open descriptor. Sizes are not trusted either (/proc files report 0): reads stop at the limit.

Writing. The new content goes to a temporary file beside the real target (through symlinks,
so the link stays a link and a link to another filesystem still works), is flushed to disk,
takes the old file's permissions, then replaces the target in one rename. A kill leaves at
most a `.NAME.*.tmp` file, which the next save of NAME removes (`remove_stale_temporaries`).
Errors name the user's file, never the temporary one.
"""
from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
import time
from pathlib import Path
from typing import BinaryIO, Callable

from core.errors import FileRefused, UserError, shorten

STALE_SECONDS = 60  # a temporary file older than this belongs to no save still running


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def check_regular_file(path: str | Path) -> os.stat_result:
    """stat() of `path` if it is an existing regular file (symlinks followed); else FileRefused."""
    _check_name(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise FileRefused(f"{_show(path)}: {exc.strerror or 'cannot be read'}") from None
    if not stat.S_ISREG(st.st_mode):
        raise FileRefused(f"{_show(path)} is {_kind(st.st_mode)}, not a file")
    return st


def open_user_file(path: str | Path, limit: int | None = None) -> BinaryIO:
    """Open a user's regular file for binary reading; FileRefused for anything else.

    `limit` (bytes) refuses a file whose size says it is larger; callers that read to the
    end use read_user_file, which also stops at the limit.
    """
    st = check_regular_file(path)
    if limit is not None and st.st_size > limit:
        raise FileRefused(f"{_show(path)} is {_size(st.st_size)}; the limit is {_size(limit)}")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise FileRefused(f"{_show(path)}: {exc.strerror or 'cannot be read'}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped after the stat above
            raise FileRefused(f"{_show(path)} is not a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_user_file(path: str | Path, limit: int) -> bytes:
    """A user's regular file's bytes, refused (FileRefused) beyond `limit` bytes."""
    with open_user_file(path, limit) as f:
        try:
            data = f.read(limit + 1)
        except OSError as exc:
            raise FileRefused(f"{_show(path)}: {exc.strerror or 'cannot be read'}") from None
    if len(data) > limit:
        raise FileRefused(f"{_show(path)} is larger than {_size(limit)}, the limit")
    return data


def read_user_prefix(path: str | Path, n: int) -> bytes:
    """The first `n` bytes (or fewer) of a user's regular file, however large it is."""
    with open_user_file(path) as f:
        try:
            return f.read(n)
        except OSError as exc:
            raise FileRefused(f"{_show(path)}: {exc.strerror or 'cannot be read'}") from None


def _check_name(path: str | Path) -> None:
    """A name no file system takes (os functions raise ValueError for it, not OSError)."""
    if "\x00" in str(path):
        raise FileRefused(f"{_show(repr(str(path)))}: a file name cannot contain a NUL character")


def _show(path: str | Path) -> str:
    """A path as a message shows it: a 100,000-character path would be the whole message."""
    return shorten(str(path), 160)


def _size(n: int) -> str:
    if n >= 2**30:
        return f"{n / 2**30:.1f} GB"
    if n >= 2**20:
        return f"{n / 2**20:.0f} MB"
    return f"{n:,} bytes"


# ----- writing ------------------------------------------------------------------------------
def write_atomically(path: str | Path, data: bytes | Callable[[BinaryIO], None]) -> None:
    """Replace `path` with `data` (bytes, or a function that writes to a binary file, as
    np.savez does) so that it is either wholly old or wholly new. Saves and every export use
    this one writer.

    Raises OSError naming `path` (never the temporary file).
    """
    _check_name(path)
    path = Path(path)
    target = Path(os.path.realpath(path))  # through symlinks: the link itself stays
    mode = _mode_for(target)
    remove_stale_temporaries(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}-", suffix=".tmp",
                                   dir=target.parent)
    except OSError as exc:
        raise _naming(exc, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(data, (bytes, bytearray, memoryview)):
                f.write(data)
            else:
                data(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise _naming(exc, path) from None
        raise


def check_save_target(path: str | Path) -> None:
    """FileRefused now if `path` is something a save would refuse (before a long computation)."""
    _check_name(path)
    target = Path(os.path.realpath(path))
    _mode_for(target)
    if not target.parent.is_dir():
        raise FileRefused(f"{_show(path)}: the folder {_show(target.parent)} does not exist")


def _mode_for(target: Path) -> int:
    """The existing file's permissions, or what a plain open() would give a new file.

    Anything but a regular file is refused: renaming over /dev/null or a FIFO would replace
    the device or the pipe, not write into it.
    """
    try:
        st = os.stat(target)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
    except OSError as exc:
        raise _naming(exc, target) from None
    if not stat.S_ISREG(st.st_mode):
        raise FileRefused(f"{_show(target)} is {_kind(st.st_mode)}, not a file; choose another name")
    return stat.S_IMODE(st.st_mode)


def _naming(exc: OSError, path: Path) -> OSError:
    """The same error, about the user's file ('No space left on device' says where)."""
    code = exc.errno if exc.errno is not None else errno.EIO
    return OSError(code, exc.strerror or os.strerror(code), _show(path))


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Delete the `.NAME.*.tmp` files killed saves of `path` left beside it; returns them."""
    target = Path(path)
    return _remove_stale(target.parent, f".{_glob_escape(target.name)}.*.tmp")


def remove_stale_temporaries_in(folder: str | Path) -> list[Path]:
    """Delete every stale save leftover (`.*.tmp`) in `folder`: the recovery folder at start."""
    return _remove_stale(Path(folder), ".*.tmp")


def _remove_stale(folder: Path, pattern: str) -> list[Path]:
    removed = []
    try:
        candidates = list(folder.glob(pattern))
    except OSError:
        return removed
    for tmp in candidates:
        try:
            st = os.lstat(tmp)
            if stat.S_ISREG(st.st_mode) and _abandoned(tmp.name, st.st_mtime):
                os.unlink(tmp)
                removed.append(tmp)
        except OSError:
            pass
    return removed


def _abandoned(name: str, mtime: float) -> bool:
    """Whether no save is still writing this temporary file.

    Its name carries the writer's process id (see write_atomically): a file whose writer is
    gone is abandoned. Our own files, and names without an id, go once they are old, so a
    save running at this moment in another thread keeps its file.
    """
    match = re.search(r"\.(\d+)-[^.]*\.tmp$", name)
    pid = int(match.group(1)) if match else None
    if pid is not None and pid != os.getpid() and not _alive(pid):
        return True
    return time.time() - mtime >= STALE_SECONDS


def _alive(pid: int) -> bool:
    if pid <= 0 or pid > 2**31:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process: assume it may be writing
    return True


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)
