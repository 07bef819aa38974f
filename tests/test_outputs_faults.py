"""An output path that is not a regular file (a FIFO, a device node, a socket, a link to one) is refused with
one line, never replaced by a rename: atomic_write, the --plot writers, the manifest and publish all rename
through fsutil.replace_file / check_output."""
import os
import socket
import stat
from pathlib import Path

import pytest

from conftest import assert_one_line_error, mobiledeploy
from mobiledeploy import fsutil, plotting
from mobiledeploy.errors import MobiledeployError


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _device(folder: Path) -> Path:
    """A character device node like /dev/null, in a temporary folder (needs root)."""
    if os.geteuid() != 0:
        pytest.skip("making a device node (os.mknod) needs root")
    path = folder / "null"
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("this container may not make device nodes (no CAP_MKNOD)")
    return path


def _figure():
    fig, ax = plotting.pyplot().subplots()
    ax.plot([1, 2], [3, 4])
    return fig


def _unchanged(path: Path, kind) -> bool:
    """Still the special file it was, and no temporary left beside it."""
    siblings = [p.name for p in path.parent.iterdir() if ".tmp-" in p.name]
    return kind(os.stat(path).st_mode) and not siblings


@pytest.mark.parametrize("link", [False, True], ids=["fifo", "link-to-fifo"])
def test_atomic_write_refuses_a_fifo(tmp_path, link):
    fifo = _fifo(tmp_path / "p.txt")
    path = fifo
    if link:
        path = tmp_path / "link.txt"
        path.symlink_to(fifo)
    with pytest.raises(MobiledeployError, match=r"p\.txt exists and is a FIFO, not a regular file: give another"
                                                 if not link else r"link\.txt exists and is a FIFO"):
        fsutil.atomic_write(path, "data")
    assert _unchanged(fifo, stat.S_ISFIFO)
    assert not link or path.is_symlink()


def test_atomic_write_refuses_a_socket(tmp_path):
    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        with pytest.raises(MobiledeployError, match="is a socket"):
            fsutil.atomic_write(path, b"x")
        assert _unchanged(path, stat.S_ISSOCK)


def test_replace_file_checks_again_at_the_rename(tmp_path):
    """A FIFO that appears while the file is written (after the first check) is still not replaced."""
    tmp = tmp_path / ".out.tmp-1"
    tmp.write_text("new")
    fifo = _fifo(tmp_path / "out")
    with pytest.raises(MobiledeployError, match="out exists and is a FIFO"):
        fsutil.replace_file(tmp, fifo, "--out")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and tmp.read_text() == "new"


def test_atomic_write_still_replaces_regular_files_and_links_to_them(tmp_path):
    target = tmp_path / "real"
    target.write_text("old")
    fsutil.atomic_write(target, "new")
    assert target.read_text() == "new"
    missing = tmp_path / "dangling"
    missing.symlink_to(tmp_path / "nowhere")
    fsutil.atomic_write(missing, "x")  # as before: the link itself is replaced
    assert missing.read_text() == "x" and not missing.is_symlink()


def test_device_node_is_refused_not_replaced(tmp_path):
    node = _device(tmp_path)
    with pytest.raises(MobiledeployError, match="null exists and is a character device"):
        fsutil.atomic_write(node, "data")
    with pytest.raises(MobiledeployError, match="plot .*null exists and is a character device"):
        plotting.save(_figure(), node)
    assert _unchanged(node, stat.S_ISCHR) and os.major(os.stat(node).st_rdev) == 1


@pytest.mark.parametrize("check", [plotting.check_target, lambda p: plotting.save(_figure(), p)],
                         ids=["check_target", "save"])
def test_plot_writer_refuses_a_fifo(tmp_path, check):
    fifo = _fifo(tmp_path / "p.png")
    with pytest.raises(MobiledeployError, match=r"plot .*p\.png exists and is a FIFO, not a regular file"):
        check(fifo)
    assert _unchanged(fifo, stat.S_ISFIFO)


@pytest.mark.parametrize("mode", ["renameat2", "fallback"])
def test_publish_with_replace_refuses_a_fifo(tmp_path, monkeypatch, mode):
    """--force swaps out what is at the target and removes it: never a FIFO (a folder or a file, as before)."""
    if mode == "fallback":
        monkeypatch.setattr(fsutil, "_LIBC", None)
    elif getattr(fsutil._LIBC, "renameat2", None) is None:
        pytest.skip("this C library has no renameat2")
    new = tmp_path / "new"
    new.mkdir()
    (new / "f").write_text("new")
    fifo = _fifo(tmp_path / "target")
    with pytest.raises(MobiledeployError, match="target exists and is a FIFO"):
        fsutil.publish(new, fifo, replace=True)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and (new / "f").read_text() == "new"


def test_bench_history_plot_to_a_fifo(tmp_path):
    """`bench --history --plot FIFO`: one line, exit 2, the FIFO kept (the CLI never blocks on it)."""
    fifo = _fifo(tmp_path / "p.png")
    proc = mobiledeploy("bench", "--history", "--plot", fifo, env={"MOBILEDEPLOY_HOME": str(tmp_path / "home")},
                        timeout=60)
    assert proc.returncode == 2
    assert_one_line_error(proc, "p.png exists and is a fifo", "give another path")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_quant_report_plot_to_a_fifo_is_refused_before_the_work(tiny_artifact, tmp_path):
    """The issue's repro: `quant-report ART --count 2 --plot p.png` with p.png a FIFO."""
    fifo = _fifo(tmp_path / "p.png")
    proc = mobiledeploy("quant-report", tiny_artifact, "--count", "2", "--plot", fifo, timeout=120)
    assert proc.returncode == 2
    assert_one_line_error(proc, "--plot", "p.png exists and is a fifo, not a regular file")
    assert "warning: no --data" not in proc.stderr  # refused before any image was run
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
