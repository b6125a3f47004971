"""Atomic file writes, shared by project saves and every export: a temporary file in the
target's folder, flushed to disk, then renamed over the target. The old file stays intact
until the new one is complete; on any failure (a full disk, an exception, Ctrl+C) the
temporary file is removed. The file keeps its permissions (a new one gets the usual 0666
less the umask) and a symlink is written through to its target. A process killed outright
cannot remove its temporary file, so each write first removes the ones an earlier killed
write of the same name left behind."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

Writer = Callable[[BinaryIO], None]
_TEMP_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")  # what mkstemp draws from


def temp_prefix(path: Path) -> str:
    return f".{path.name}."


def atomic_write(path: str | Path, content: bytes | Writer) -> None:
    """Write `content` (bytes, or a function that writes to a binary file) to `path`."""
    # Through a symlink to its target: the link stays a link, and the temporary file sits on
    # the target's file system, so the rename cannot cross devices.
    path = Path(os.path.realpath(path))
    folder = path.parent
    _remove_stale_temps(folder, path.name)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=".tmp", dir=folder)
    try:
        os.chmod(tmp, _mode_for(path))  # mkstemp makes 0600; keep the file's or the usual mode
        with os.fdopen(fd, "wb") as f:
            if isinstance(content, (bytes, bytearray)):
                f.write(content)
            else:
                content(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    try:  # Linux says it without changing it (setting it would race with other threads)
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _remove_stale_temps(folder: Path, name: str) -> None:
    # Only names mkstemp could have made for this target: ".NAME." + 8 characters + ".tmp".
    prefix = f".{name}."
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        middle = entry.name[len(prefix):-len(".tmp")]
        if (entry.name.startswith(prefix) and entry.name.endswith(".tmp") and len(middle) == 8
                and set(middle) <= _TEMP_CHARS and entry.is_file(follow_symlinks=False)):
            try:
                os.unlink(entry.path)
            except OSError:
                pass
