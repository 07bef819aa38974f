"""An artifact on disk: naming, loading with sha256 checks, and atomic publishing."""
from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .. import fsutil, signals
from ..errors import MobiledeployError
from ..model.families import DEFAULT
from .labels import read_lines
from .manifest import FileEntry, Manifest


def artifact_name(alpha: float, resolution: int, family: str = DEFAULT) -> str:
    """Folder name for an artifact: <family>_<alpha>_<res> (mobilenet_v1_0.5_128, mobilenet_v2_1.0_224), alpha
    written losslessly (Google's style: 0.25, 0.5, 1.0; 0.254 stays 0.254), so two models never share a folder."""
    from ..model.architecture import alpha_text

    return f"{getattr(family, 'name', family)}_{alpha_text(alpha)}_{resolution}"


def member_path(folder: Path, name: str, what: str) -> Path:
    """The path of a file the manifest names, refused unless it is a regular file inside the artifact folder."""
    root = Path(folder).resolve()
    path = root / name
    if Path(name).is_absolute() or len(Path(name).parts) != 1 or name in (".", ".."):
        raise MobiledeployError(f"{folder}/manifest.json names {what} {name!r} outside the artifact folder: "
                                "refused (re-export the artifact)")
    try:
        real = path.resolve(strict=True)
    except (FileNotFoundError, RuntimeError):
        raise MobiledeployError(f"{path} is missing: re-export the artifact") from None
    if real.parent != root:
        raise MobiledeployError(f"{path} links outside the artifact folder: refused (re-export the artifact)")
    if not real.is_file():
        raise MobiledeployError(f"{path} is not a regular file: refused (re-export the artifact)")
    return real


@dataclass
class Artifact:
    """A validated artifact folder: its typed manifest, and checked access to the files it names."""

    folder: Path
    manifest: Manifest

    @classmethod
    def load(cls, folder) -> "Artifact":
        """Read and validate the manifest; model files are checked when they are used."""
        folder = Path(folder)
        return cls(folder, Manifest.load(folder))

    @property
    def labels(self) -> list[str]:
        """Class names, one per output (labels.txt, confined to the folder, size-capped, UTF-8, and with the
        manifest's sha256 when it records one)."""
        path = member_path(self.folder, self.manifest.labels.file, "labels file")
        labels = read_lines(path, "re-export the artifact", self.manifest.labels.sha256)
        if len(labels) != self.manifest.model.outputs:
            raise MobiledeployError(f"{path} has {len(labels)} lines, the model has "
                                    f"{self.manifest.model.outputs} outputs: re-export the artifact")
        return labels

    def entry(self, name: str) -> FileEntry:
        """A file entry by name; a clear error listing the choices."""
        return self.manifest.entry(name)

    def path(self, entry: FileEntry) -> Path:
        """The verified path of a model file: refuses a file outside the folder or whose sha256 or size differ."""
        path = member_path(self.folder, entry.name, "model file")
        if path.stat().st_size != entry.size or fsutil.sha256_file(path) != entry.sha256:
            raise MobiledeployError(f"{self.folder / entry.name} does not match its sha256 in the manifest "
                                    "(modified or truncated): re-export the artifact")
        return path


def find(models: Path, alpha: float, resolution: int, arch: str | None = None) -> Artifact:
    """The artifact under `models` whose manifest says this alpha and resolution, and family when `arch` is
    given (names are not parsed). Two families at the same alpha/res without `arch` is an error naming both.

    alpha and resolution may be text (a command line): they are checked as every command checks them.
    """
    from ..model.architecture import alpha_text, check_alpha, check_resolution

    alpha, resolution = check_alpha(alpha), check_resolution(resolution)
    models = Path(models)
    found, others = [], []
    for manifest in sorted(models.glob("*/manifest.json")) if models.is_dir() else []:
        try:
            art = Artifact.load(manifest.parent)
        except MobiledeployError:
            continue  # not ours to judge here: a broken artifact is reported when it is used by name
        m = art.manifest.model
        if m.resolution == resolution and math.isclose(m.alpha, alpha, rel_tol=1e-9, abs_tol=1e-12) \
                and arch in (None, m.architecture):
            found.append(art)
        else:
            others.append(f"{m.architecture.removeprefix('mobilenet_')} {alpha_text(m.alpha)}/{m.resolution}")
    if not found:
        have = ", ".join(others) or "none"
        wanted = f"{arch} " if arch else ""
        raise MobiledeployError(f"no {wanted}artifact for alpha {alpha_text(alpha)} at {resolution} px in {models} "
                                f"(family alpha/res there: {have}): mobiledeploy export "
                                f"{'--arch ' + arch + ' ' if arch else ''}--alpha {alpha_text(alpha)} --res "
                                f"{resolution} --int8 --out {models}")
    families = sorted({a.manifest.model.architecture for a in found})
    if len(families) > 1:
        raise MobiledeployError(f"{models} has alpha {alpha_text(alpha)} at {resolution} px of {' and '.join(families)}: "
                                f"say which with --arch {families[0]} (or --artifact DIR)")
    return max(found, key=lambda a: (a.folder / "manifest.json").stat().st_mtime)


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
        fsutil.check_output(self.target, folder=True)  # a FIFO or a device there: refused before any work
        if self.target.exists() and not force:
            raise MobiledeployError(f"{self.target} exists: pass --force to replace it")
        self.tmp, self._created = None, []
        try:
            self._created = fsutil.make_dirs(self.target.parent)
            fsutil.remove_stale_temporaries(self.target.parent)  # left by a killed run
            self.tmp = Path(tempfile.mkdtemp(prefix=fsutil.temporary_prefix(self.target.name), dir=self.target.parent))
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
