"""The atomic writer shared by saves and exports."""
import pytest

from core.atomic_file import atomic_write


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out.bin"
    atomic_write(path, b"old")

    def half_then_fail(f):
        f.write(b"ne")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        atomic_write(path, half_then_fail)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_temporaries_a_killed_write_left_are_removed_by_the_next_write(tmp_path):
    path = tmp_path / "out.bin"
    stale = tmp_path / ".out.bin.ab_cd123.tmp"  # the shape mkstemp gives
    stale.write_bytes(b"partial")
    other = tmp_path / ".other.bin.ab_cd123.tmp"  # another file's temporary: not ours
    other.write_bytes(b"x")
    keep = tmp_path / ".out.bin.notours.tmp"
    keep.write_bytes(b"x")
    atomic_write(path, b"new")
    assert path.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["out.bin", other.name, keep.name])


def test_permissions_are_kept_and_new_files_follow_the_umask(tmp_path):
    import os
    old = tmp_path / "old.bin"
    old.write_bytes(b"x")
    os.chmod(old, 0o640)
    atomic_write(old, b"y")
    assert old.stat().st_mode & 0o777 == 0o640
    mask = os.umask(0o027)
    try:
        atomic_write(tmp_path / "new.bin", b"z")
    finally:
        os.umask(mask)
    assert (tmp_path / "new.bin").stat().st_mode & 0o777 == 0o640


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path):
    target = tmp_path / "real" / "file.bin"
    target.parent.mkdir()
    target.write_bytes(b"old")
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    atomic_write(link, b"new")
    assert link.is_symlink() and target.read_bytes() == b"new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.bin"]
