"""An artifact on disk: naming, loading with sha256 checks, and atomic publishing."""
from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .. import fsutil, signals
from ..errors import MobiledeployError
from . import manifest as mf


def artifact_name(alpha: float, resolution: int) -> str:
    """Folder name for an artifact: mobilenet_v1_<alpha, 2 decimals>_<res>."""
    return f"mobilenet_v1_{alpha:.2f}_{resolution}"


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class Artifact:
    """A validated artifact folder."""

    folder: Path
    manifest: dict

    @classmethod
    def load(cls, folder) -> "Artifact":
        """Read and validate the manifest; model files are checked when they are used."""
        folder = Path(folder)
        return cls(folder, mf.read(folder))

    @property
    def labels(self) -> list[str]:
        """Class names, one per output."""
        path = self.folder / self.manifest["labels"]["file"]
        try:
            labels = [line for line in path.read_text(encoding="utf-8").splitlines()]
        except OSError:
            raise MobiledeployError(f"{path} is missing: re-export the artifact") from None
        if len(labels) != self.manifest["model"]["outputs"]:
            raise MobiledeployError(f"{path} has {len(labels)} lines, the model has "
                                    f"{self.manifest['model']['outputs']} outputs: re-export the artifact")
        return labels

    def entry(self, name: str | None = None, precision: str | None = None, fmt: str | None = None) -> dict:
        """A file entry by name, or the first matching precision/format; a clear error listing the choices."""
        files = self.manifest["files"]
        for e in files:
            if (name is None or e["name"] == name) and (precision is None or e["precision"] == precision) \
                    and (fmt is None or e["format"] == fmt):
                return e
        choices = ", ".join(e["name"] for e in files)
        wanted = name or f"{precision or ''} {fmt or ''}".strip()
        raise MobiledeployError(f"{self.folder} has no file {wanted}: it has {choices}")

    def path(self, entry: dict) -> Path:
        """The verified path of a model file: refuses a file whose sha256 or size does not match."""
        path = self.folder / entry["name"]
        if not path.is_file():
            raise MobiledeployError(f"{path} is missing: re-export the artifact")
        if path.stat().st_size != entry["size"] or file_sha256(path) != entry["sha256"]:
            raise MobiledeployError(f"{path} does not match its sha256 in the manifest (modified or truncated): "
                                    "re-export the artifact")
        return path


class Publisher:
    """Build an artifact in a temporary folder beside the target and rename it into place at the end.

    A failure, Ctrl-C or SIGTERM removes the temporary folder (and the --out folders it created). The
    final rename never replaces what is there without force, even when another process published the
    same target meanwhile (os.rename would silently replace an empty folder); with force the old
    artifact is swapped out atomically, so the target always holds a complete artifact.
    """

    def __init__(self, target: Path, force: bool, what: str = "artifact"):
        self.target = Path(target)
        self.force, self.what = force, what
        if self.target.exists() and not force:
            raise MobiledeployError(f"{self.target} exists: pass --force to replace it")
        self.tmp, self._created = None, []
        try:
            self._created = fsutil.make_dirs(self.target.parent)
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.tmp-", dir=self.target.parent))
        except BaseException as exc:
            self._rollback()
            if not isinstance(exc, OSError):
                raise
            err = fsutil.disk_error(exc, "cannot write to", self.target.parent)
            raise (err or MobiledeployError(f"cannot write to {self.target.parent}: {exc.strerror or exc}")) from None

    def __enter__(self) -> "Publisher":
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            try:
                self._commit()
            except FileExistsError:
                self._rollback()
                raise MobiledeployError(f"{self.target} appeared while this {self.what} was being written "
                                        "(another export at the same time?): it was kept; pass --force to "
                                        "replace it") from None
            except OSError as error:
                self._rollback()
                err = _write_error(error, self.target)
                if err is None:
                    raise
                raise err from None
            except BaseException:
                self._rollback()
                raise
            return False
        self._rollback()
        if isinstance(exc, OSError):
            err = _write_error(exc, self.target)
            if err is not None:
                raise err from None
        return False

    def _rollback(self):
        if self.tmp is not None:
            fsutil.remove_tree(self.tmp)
        fsutil.remove_dirs(self._created)

    def _commit(self):
        os.chmod(self.tmp, 0o755)
        with signals.deferred():  # the swap and the removal of the old artifact happen together
            fsutil.publish(self.tmp, self.target, self.force)


def _write_error(exc: OSError, target: Path):
    """A user error naming the target (not the hidden temporary folder) for disk faults; None for bugs."""
    return fsutil.disk_error(exc, "cannot write", target)
