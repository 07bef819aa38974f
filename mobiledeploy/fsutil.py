"""Writing files and folders so that a reader never sees half of one, and disk errors a user can fix.

- `atomic_write` writes a file through a temporary sibling that is renamed over the target at the end
  (removed on any failure, Ctrl-C and SIGTERM included). `replace_file` is that rename, for every writer:
  it refuses a target that is not a regular file (`check_output`), because a rename would replace a FIFO,
  a socket, a folder or a device node (/dev/null as root) with a plain file.
- `rename_noreplace` / `rename_exchange` publish a finished folder without ever losing what is there:
  Linux's renameat2() (RENAME_NOREPLACE / RENAME_EXCHANGE); elsewhere an flock on the parent folder
  serialises publishers. os.rename alone is not enough: it silently replaces an *empty* folder.
- `editing` serialises read-modify-write edits of one settings file between processes (an flock).
- `disk_error` turns an OSError of the kind a user can fix (full disk, read-only target, permission,
  a folder where a file is expected) into a one-line MobiledeployError naming the path and the fix.
"""
from __future__ import annotations

import ctypes
import hashlib
import ctypes.util
import errno
import os
import shutil
import stat
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from .errors import MobiledeployError

EDIT_WAIT = 30.0  # seconds: an edit of a settings file takes milliseconds
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100

#: errno -> how to fix it; these are the user's environment, not bugs
FIXES = {
    errno.ENOSPC: "free some space or write elsewhere",
    errno.EDQUOT: "free some space (disk quota exceeded) or write elsewhere",
    errno.EFBIG: "larger than this process may write (ulimit -f) or the file system holds: raise the limit or "
                 "write elsewhere",
    errno.EROFS: "the file system is read-only: write elsewhere",
    errno.EACCES: "check the permissions or write elsewhere",
    errno.EPERM: "check the permissions or write elsewhere",
    errno.EISDIR: "it is a folder: give a file path",
    errno.ENOTDIR: "a part of the path is a file, not a folder: give another path",
    errno.EEXIST: "it already exists: remove it or give another path",
    errno.ENAMETOOLONG: "use a shorter path",
    errno.ENOENT: "check the path",
}


def disk_error(exc: OSError, action: str = "cannot write", path=None) -> MobiledeployError | None:
    """A one-line user error for an OSError a user can fix (None when it looks like a bug).

    `path` names what the user asked for when exc.filename is an internal temporary path.
    """
    code = getattr(exc, "errno", None)
    if code not in FIXES:
        return None
    where = path if path is not None else (exc.filename or "")
    reason = exc.strerror or os.strerror(code)
    head = f"{action} {where}".strip()
    return MobiledeployError(f"{head}: {reason} ({FIXES[code]})" if head else f"{reason} ({FIXES[code]})")


#: what an existing path can be besides a regular file, in the words of an error message
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def special_kind(path) -> str | None:
    """What `path` is when it exists and is not a regular file ("a FIFO", "a folder", ...), else None.

    Symbolic links are followed: a link to /dev/null is a character device. A path that cannot be
    examined (missing, a dangling link, no permission) is None: the write itself reports what is wrong.
    """
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def check_output(path, what: str = "", folder: bool = False) -> Path:
    """Refuse an output `path` that exists and is not a regular file (nor a folder, with `folder`).

    Writers call this before their work (so none is wasted) and `replace_file` again at the rename.
    `what` names the path as the user gave it, e.g. "--plot" or "plot".
    """
    kind = special_kind(path)
    if kind is not None and not (folder and kind == "a folder"):
        head = f"{what} {path}" if what else str(path)
        wanted = "a regular file or a folder" if folder else "a regular file"
        raise MobiledeployError(f"{head} exists and is {kind}, not {wanted}: give another path")
    return Path(path)


def replace_file(tmp, path, what: str = "") -> None:
    """Rename the finished temporary file `tmp` over `path`; a MobiledeployError when `path` is not a
    regular file (checked again here: something may have appeared there while the file was written)."""
    check_output(path, what)
    os.replace(tmp, path)


def _libc():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


_LIBC = _libc()


def _renameat2(src, dst, flags: int) -> bool:
    """True when renameat2 did it; False when this system or file system lacks it; OSError otherwise."""
    fn = getattr(_LIBC, "renameat2", None)
    if fn is None:
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):  # old kernel, or a file system without it
        return False
    raise OSError(err, os.strerror(err), str(dst))


@contextmanager
def _parent_locked(path: Path):
    """Hold an exclusive flock on the folder that holds `path` (the portable fallback's serialisation)."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): best effort
        yield
        return
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextmanager
def editing(path, wait: float = EDIT_WAIT):
    """Hold the lock for a read-modify-write of the settings file `path` (devices.toml, ...).

    Without it, two processes that read the same old file each write their own change and one is lost
    (eight `devices add` at once kept three). The lock is an flock on the folder that holds `path`,
    so no lock file is left beside it; the write itself stays atomic (`atomic_write`). Not reentrant:
    a process takes it once per edit. The folder is created when missing. A lock held longer than
    `wait` seconds is some other long job's: one line then, not a hang.
    """
    path = Path(path)
    try:
        import fcntl
    except ImportError:  # no flock (Windows): best effort
        fcntl = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path.parent, os.O_RDONLY) if fcntl else None
    except OSError as exc:
        raise (disk_error(exc, "cannot use", path.parent) or exc) from None
    if fd is None:
        yield path
        return
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise MobiledeployError(f"cannot edit {path}: another process has held its folder locked for "
                                            f"{wait:g} s; try again when it is done") from None
                time.sleep(0.02)
        yield path
    finally:
        os.close(fd)


def rename_noreplace(src, dst) -> None:
    """Rename src to dst; FileExistsError when dst exists (also an empty folder), atomically."""
    src, dst = Path(src), Path(dst)
    if _renameat2(src, dst, _RENAME_NOREPLACE):
        return
    with _parent_locked(dst):
        if os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dst))
        os.rename(src, dst)


def rename_exchange(src, dst) -> bool:
    """Swap src and dst atomically (dst must exist); False when dst does not exist.

    Afterwards src holds what dst held; dst is never missing in between.
    """
    src, dst = Path(src), Path(dst)
    try:
        if _renameat2(src, dst, _RENAME_EXCHANGE):
            return True
    except FileNotFoundError:
        return False
    with _parent_locked(dst):  # fallback: two renames under the lock
        if not os.path.lexists(dst):
            return False
        parked = dst.with_name(f".{dst.name}.old-{os.getpid()}")
        os.rename(dst, parked)
        os.rename(src, dst)
        os.rename(parked, src)
    return True


def publish(src, dst, replace: bool) -> None:
    """Move the finished `src` to `dst`: refuse (FileExistsError) when dst exists unless `replace`.

    With `replace`, an existing dst is swapped out atomically and the old one is removed afterwards;
    a concurrent publisher can make this retry, never lose the new one.
    """
    src, dst = Path(src), Path(dst)
    for _ in range(10):
        try:
            rename_noreplace(src, dst)
            return
        except FileExistsError:
            if not replace:
                raise
        check_output(dst, folder=True)  # the swapped-out dst is removed next: never a FIFO or a device
        if rename_exchange(src, dst):
            remove_tree(src)  # src now holds the previous dst
            return
    raise FileExistsError(errno.EEXIST, "kept being recreated by another process", str(dst))


def remove_tree(path) -> None:
    """Remove a file or folder if it is there, ignoring errors (clean-up must not hide the real error)."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except OSError:
            pass


def atomic_write(path, data: bytes | str, encoding: str = "utf-8", mode: int = 0o644, what: str = "") -> Path:
    """Write `data` to `path` through a temporary sibling and a rename; no partial file, no temp left.

    Errors a user can fix (full disk, read-only, a folder, FIFO or device at `path`, ...) become one-line
    MobiledeployErrors naming `path` (as `what` calls it, e.g. "plot").
    """
    path = check_output(path, what)
    payload = data.encode(encoding) if isinstance(data, str) else data
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        replace_file(tmp, path, what)
        tmp = None
    except OSError as exc:
        err = disk_error(exc, path=path)
        if err is None:
            raise
        raise err from None
    finally:
        if tmp is not None:
            remove_tree(tmp)
    return path


def make_dirs(folder) -> list[Path]:
    """Create `folder` and its missing parents; returns the ones created, deepest first (for `remove_dirs`)."""
    folder = Path(folder)
    missing, p = [], folder
    while not os.path.lexists(p) and p != p.parent:
        missing.append(p)
        p = p.parent
    if p.exists() and not p.is_dir():
        raise MobiledeployError(f"cannot write in {p}: it is not a folder (give a folder, or a path that does not exist "
                                "yet)")
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def remove_dirs(created: list[Path]) -> None:
    """Undo `make_dirs`: remove the folders it created, deepest first, as long as they are empty."""
    for d in created:
        try:
            d.rmdir()
        except OSError:
            break


def sha256_file(path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def temporary_prefix(name: str) -> str:
    """The prefix of a temporary folder beside `name`: hidden, and naming the process that owns it, so a later
    run can tell a folder whose owner was killed (SIGKILL, a power cut) from one still being written."""
    return f".{name}.tmp-{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is not alive
        with open(f"/proc/{pid}/status") as f:
            return not any(line.startswith("State:") and "Z" in line.split()[1] for line in f)
    except OSError:
        return True


def remove_stale_temporaries(folder) -> list[Path]:
    """Remove the temporary folders in `folder` whose owning process is gone; returns what was removed."""
    removed = []
    try:
        entries = list(Path(folder).glob(".*.tmp-*-*"))
    except OSError:
        return removed
    for path in entries:
        pid = path.name.rsplit(".tmp-", 1)[-1].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)) or path.is_symlink() or not path.is_dir():
            continue
        try:
            remove_tree(path)
            removed.append(path)
        except OSError:
            pass
    return removed
