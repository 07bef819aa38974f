"""Publishing primitives on a real file system, through renameat2 and through the portable fallback."""
import pytest

from mobiledeploy import fsutil
from mobiledeploy.errors import MobiledeployError


@pytest.fixture(params=["renameat2", "fallback"])
def mode(request, monkeypatch):
    if request.param == "fallback":
        monkeypatch.setattr(fsutil, "_LIBC", None)  # as on a system without renameat2
    elif getattr(fsutil._LIBC, "renameat2", None) is None:
        pytest.skip("this C library has no renameat2")
    return request.param


def _folder(path, text):
    path.mkdir()
    (path / "f").write_text(text)
    return path


@pytest.mark.parametrize("existing", ["empty folder", "folder", "file"])
def test_publish_refuses_what_is_there(tmp_path, mode, existing):
    new = _folder(tmp_path / "new", "new")
    target = tmp_path / "target"
    if existing == "file":
        target.write_text("old")
    elif existing == "folder":
        _folder(target, "old")
    else:
        target.mkdir()  # os.rename would silently replace this one
    with pytest.raises(FileExistsError):
        fsutil.publish(new, target, replace=False)
    assert (new / "f").read_text() == "new"
    assert target.is_file() or existing == "empty folder" or (target / "f").read_text() == "old"


def test_publish_replace_swaps_and_removes_the_old(tmp_path, mode):
    target = _folder(tmp_path / "target", "old")
    fsutil.publish(_folder(tmp_path / "new", "new"), target, replace=True)
    assert (target / "f").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]


def test_publish_to_a_free_name(tmp_path, mode):
    fsutil.publish(_folder(tmp_path / "new", "new"), tmp_path / "target", replace=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]


def test_atomic_write_replaces_whole_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a.txt"
    fsutil.atomic_write(path, "one")
    fsutil.atomic_write(path, b"two")
    assert path.read_text() == "two"
    (tmp_path / "dir").mkdir()
    with pytest.raises(MobiledeployError, match="is a folder|Is a directory"):
        fsutil.atomic_write(tmp_path / "dir", "x")
    with pytest.raises(MobiledeployError, match="check the path"):
        fsutil.atomic_write(tmp_path / "missing" / "a.txt", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "dir"]


def test_disk_error_only_for_what_a_user_can_fix():
    import errno

    assert "No space left" in str(fsutil.disk_error(OSError(errno.ENOSPC, "No space left on device", "/x"), "cannot write"))
    assert fsutil.disk_error(OSError(errno.EBADF, "Bad file descriptor")) is None
