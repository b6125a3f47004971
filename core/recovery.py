"""The recovery file: unsaved work written aside (autosave) so a crash loses almost nothing.

It lives in the user's data folder (platformdirs), next to a small note saying which file the
work belonged to and when it was written. A clean save or close deletes both.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from platformdirs import user_data_dir

from core.files import read_user_file, remove_stale_temporaries_in, write_atomically
from core.project import Project, ProjectError, json_slices, load_project
from core.strict_json import loads_strict

APP = "Backprop Studio"
NOTE_BYTES = 64 * 1024


def data_folder() -> Path:
    folder = Path(os.environ.get("BACKPROP_STUDIO_DATA") or user_data_dir(APP, appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _paths() -> tuple[Path, Path]:
    folder = data_folder()
    return folder / "recovery.json", folder / "recovery-note.json"


def write_recovery(project: Project, source: Path | None) -> Path:
    """Write the unsaved project aside (atomically, like any save)."""
    return write_recovery_json("".join(json_slices(project)), source)


def write_recovery_json(text: str, source: Path | None) -> Path:
    """Write a project's JSON, made already (json_slices), aside: atomically, then the note
    saying whose work it is."""
    path, note = _paths()
    write_atomically(path, text.encode("utf-8"))
    note.write_text(json.dumps({"source": str(source) if source else None, "time": time.time()}))
    return path


def read_recovery() -> tuple[Project, Path | None, float] | None:
    """(project, the file it belonged to, when it was written), or None if there is none.

    A recovery file that cannot be read is removed: it must never stop the program starting.
    Temporary files of saves killed half-way are removed first (remove_stale_files).
    """
    remove_stale_files()
    path, note = _paths()
    if not path.exists():
        return None
    try:
        project = load_project(path)
        meta = loads_strict(read_user_file(note, NOTE_BYTES).decode("utf-8")) \
            if note.exists() else {}
        source = meta.get("source")
        when = float(meta.get("time", path.stat().st_mtime))
        if source is not None and not isinstance(source, str):
            raise ValueError("the note's source is not a path")
    except (ProjectError, OSError, ValueError, AttributeError, TypeError):
        clear_recovery()
        return None
    return project, Path(source) if source else None, when


def remove_stale_files() -> list[Path]:
    """Delete temporary files that saves killed half-way left in the recovery folder."""
    return remove_stale_temporaries_in(data_folder())


def clear_recovery() -> None:
    for p in _paths():
        try:
            p.unlink()
        except FileNotFoundError:
            pass
