"""Saving a project: permissions kept, symlinks written through, leftovers of killed saves
removed, and a SIGKILL at any moment leaves either the old or the new file, never a mix."""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from core.files import (FileRefused, open_user_file, read_user_file, remove_stale_temporaries,
                        remove_stale_temporaries_in)
from core.project import ProjectError, load_project, save_project
from core.templates import xor

ROOT = Path(__file__).resolve().parents[2]


def titled(title: str):
    project = xor()
    project.title = title
    return project


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("perm", [0o644, 0o600, 0o664, 0o640])
def test_a_save_keeps_the_files_permissions(tmp_path, perm):
    path = tmp_path / "p.json"
    save_project(titled("one"), path)
    os.chmod(path, perm)
    save_project(titled("two"), path)
    assert mode(path) == perm and load_project(path).title == "two"


def test_a_new_file_gets_the_usual_permissions(tmp_path):
    path = tmp_path / "new.json"
    old = os.umask(0o022)
    try:
        save_project(xor(), path)
    finally:
        os.umask(old)
    assert mode(path) == 0o644  # as open() would give, not mkstemp's 0600


def test_saving_through_a_symlink_writes_the_target_and_keeps_the_link(tmp_path):
    real = tmp_path / "real" / "p.json"
    real.parent.mkdir()
    save_project(titled("old"), real)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    save_project(titled("new"), link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert load_project(real).title == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real"]
    assert [p.name for p in real.parent.iterdir()] == ["p.json"]  # the temp file sat beside it


@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="needs a second filesystem")
def test_a_symlink_to_another_filesystem_can_be_saved(tmp_path):
    with tempfile.TemporaryDirectory(dir="/dev/shm") as other:
        if os.stat(other).st_dev == os.stat(tmp_path).st_dev:
            pytest.skip("/dev/shm is on the same filesystem here")
        real = Path(other) / "p.json"
        save_project(titled("old"), real)
        link = tmp_path / "link.json"
        link.symlink_to(real)
        save_project(titled("new"), link)  # os.replace across filesystems would fail
        assert link.is_symlink() and load_project(real).title == "new"


def test_stale_temporaries_of_dead_saves_are_removed_on_the_next_save(tmp_path):
    path = tmp_path / "p.json"
    save_project(xor(), path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    leftover = tmp_path / f".p.json.{dead}-abc123.tmp"  # a save whose process is gone
    leftover.write_text("half a proj")
    running = tmp_path / f".p.json.{os.getppid()}-xyz.tmp"  # a live process: maybe saving now
    running.write_text("being written")
    other = tmp_path / f".q.json.{dead}-abc.tmp"  # another file's: not this save's business
    other.write_text("x")
    save_project(xor(), path)
    assert not leftover.exists() and running.exists() and other.exists()
    old = time.time() - 3600  # an hour old: no save takes that long
    os.utime(running, (old, old))
    assert remove_stale_temporaries(path) == [running]
    assert remove_stale_temporaries_in(tmp_path) == [other]


def test_write_errors_name_the_users_file_and_leave_nothing(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "p.json"
    save_project(xor(), path)
    os.chmod(folder, 0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        with pytest.raises(OSError) as info:
            save_project(titled("x"), path)
        assert info.value.filename == str(path) and ".tmp" not in str(info.value)
    finally:
        os.chmod(folder, 0o700)


# ----- reading ------------------------------------------------------------------------------
def test_only_regular_files_are_opened(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    link.symlink_to(fifo)
    for path, kind in ((fifo, "FIFO"), (link, "FIFO"), (tmp_path, "folder"),
                       (Path("/dev/zero"), "device"), (tmp_path / "none", "No such file")):
        start = time.monotonic()
        with pytest.raises(FileRefused, match=kind):
            open_user_file(path)
        assert time.monotonic() - start < 1
    small = tmp_path / "f.txt"
    small.write_bytes(b"12345")
    with pytest.raises(FileRefused, match="limit"):
        read_user_file(small, 4)
    assert read_user_file(small, 5) == b"12345"


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_a_file_whose_size_lies_is_still_read_only_to_the_limit():
    # /proc files report size 0 and may be of any length.
    with pytest.raises(FileRefused, match="larger than"):
        read_user_file("/proc/self/maps", 10)


# ----- kills --------------------------------------------------------------------------------
SAVER = """
import sys
from core.project import save_project
from core.templates import xor
project = xor()
project.description = "d" * 60_000
print("ready", flush=True)
i = 0
while True:
    project.title = f"title {i}"
    save_project(project, sys.argv[1])
    i += 1
"""


def test_sigkill_during_saves_leaves_a_whole_file_and_the_next_save_cleans_up(tmp_path):
    path = tmp_path / "p.json"
    save_project(titled("start"), path)
    kills = 25
    for k in range(kills):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.01 + 0.002 * k)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
        title = load_project(path).title  # whole: the old file or a complete new one
        assert title == "start" or title.startswith("title ")
    save_project(titled("after"), path)  # removes what the killed saves left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json"]
    assert load_project(path).title == "after"


def test_a_save_never_replaces_a_pipe_a_device_or_a_folder(tmp_path):
    # Renaming over them would replace the pipe (or, as root, /dev/null) with a file.
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    link = tmp_path / "link.json"
    link.symlink_to(fifo)
    for target, kind in ((fifo, "FIFO"), (link, "FIFO"), (tmp_path, "folder")):
        with pytest.raises(FileRefused, match=kind):
            save_project(xor(), target)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "pipe.json"]


def test_train_refuses_an_output_it_could_not_save_before_training(tmp_path):
    import io

    from core import cli

    project = tmp_path / "p.json"
    save_project(xor(), project)
    fifo = tmp_path / "out.json"
    os.mkfifo(fifo)
    for output, expected in ((fifo, "FIFO"), (tmp_path, "folder"),
                             (tmp_path / "no" / "x.json", "does not exist")):
        err = io.StringIO()
        start = time.monotonic()
        code = cli.main(["train", str(project), "--epochs", "100000", "--quiet", "-o", str(output)],
                        io.StringIO(), err)
        assert code == 2 and expected in err.getvalue()
        assert time.monotonic() - start < 2  # refused before 100,000 epochs, not after


def test_a_name_with_a_nul_character_is_refused_not_a_crash(tmp_path):
    # os functions raise ValueError (not OSError) for such names.
    for action in (lambda: save_project(xor(), tmp_path / "a\x00b.json"),
                   lambda: read_user_file(tmp_path / "a\x00b.json", 10)):
        with pytest.raises(FileRefused, match="NUL"):
            action()
    with pytest.raises(ProjectError, match="NUL"):
        load_project(tmp_path / "a\x00b.json")


def test_an_export_written_by_a_function_that_fails_keeps_the_old_file(tmp_path):
    """The writer may be a function (np.savez writes to a file object): a failure half-way
    leaves the old file and no temporary."""
    from core.files import write_atomically

    path = tmp_path / "out.npz"
    write_atomically(path, b"old")

    def half_then_fail(f):
        f.write(b"ne")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError) as info:
        write_atomically(path, half_then_fail)
    assert info.value.filename == str(path)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.npz"]
