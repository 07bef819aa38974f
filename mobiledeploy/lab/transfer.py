"""What travels to a worker: an artifact's manifest and the model files a device will measure, as bytes; checked
by sha256 where they arrive, before anything measures them.

A worker keeps what arrives under its home's lab/artifacts/<folder>-<manifest sha256 prefix>/ (written to a
temporary folder, checked, then renamed into place), so the same artifact sent again is not written twice.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import MobiledeployError

FOLDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}$")
MAX_FILE = 1 << 30


@dataclass(frozen=True)
class Payload:
    """One artifact on its way to a worker: the folder's name, manifest.json's bytes, the files' bytes."""

    folder: str
    manifest: bytes
    files: tuple            # ((name, bytes), ...)

    @property
    def size(self) -> int:
        return len(self.manifest) + sum(len(b) for _, b in self.files)


def pack(artifact, names: list[str]) -> Payload:
    """The payload of these files of an artifact (each checked against its manifest before it leaves)."""
    from ..readers import read_bytes

    manifest = read_bytes(artifact.folder / "manifest.json", "manifest", 16 << 20, "re-export the artifact")
    files = tuple((n, artifact.path(artifact.entry(n)).read_bytes()) for n in dict.fromkeys(names))
    return Payload(artifact.folder.name, manifest, files)


def root() -> Path:
    from ..home import home

    return home() / "lab" / "artifacts"


def pack_whole(artifact) -> Payload:
    """Every file of an artifact (its model files and its labels), to send the whole of it back to a client."""
    from dataclasses import replace

    from ..readers import read_bytes

    models = pack(artifact, [e.name for e in artifact.manifest.files])
    labels = artifact.manifest.labels.file
    data = read_bytes(artifact.folder / labels, "labels file", MAX_FILE, "re-export the artifact")
    return replace(models, files=(*models.files, (labels, data)))


def write(payload: Payload, folder: Path, manifest_bytes: bytes | None = None, whole: bool = False):
    """Write the payload's files into the (new, empty) `folder`, each checked against the manifest first; its
    Manifest. `manifest_bytes` replaces the payload's manifest (the same manifest with paths of this host);
    `whole`: the payload must hold every file the manifest names and its labels (an artifact, not files of it)."""
    from ..artifact.manifest import Manifest

    if not isinstance(payload, Payload) or not isinstance(payload.manifest, bytes) \
            or not isinstance(payload.files, tuple):
        raise MobiledeployError("an artifact arrived in an unknown form: is every host on the same mobiledeploy?")
    name = payload.folder if FOLDER.match(str(payload.folder)) else "artifact"
    (folder / "manifest.json").write_bytes(payload.manifest if manifest_bytes is None else manifest_bytes)
    manifest = Manifest.load(folder)
    labels = manifest.labels
    for item in payload.files:
        fname, data = item if isinstance(item, tuple) and len(item) == 2 else (None, None)
        if not isinstance(data, bytes):
            raise MobiledeployError("an artifact arrived in an unknown form: is every host on the same mobiledeploy?")
        if not isinstance(fname, str) or not FOLDER.match(fname) or fname == "manifest.json":
            raise MobiledeployError(f"{str(fname)[:80]!r} is not a file name: refused")
        if fname == labels.file:   # the labels: checked by the manifest's sha256 when it records one
            size, sha = None, labels.sha256
        else:
            entry = manifest.entry(str(fname))   # a name the manifest lacks is refused here
            size, sha = entry.size, entry.sha256
        if (size is not None and len(data) != size) or (sha is not None and hashlib.sha256(data).hexdigest() != sha):
            raise MobiledeployError(f"{name}/{fname} arrived corrupted (its sha256 or size differs from the "
                                    "manifest's): refused; run the sweep again")
        (folder / fname).write_bytes(data)
    if whole:
        names = [n for n, _ in payload.files]
        needed = {e.name for e in manifest.files} | {labels.file}
        if len(names) != len(set(names)) or set(names) != needed:
            raise MobiledeployError(f"{name} arrived incomplete (files {sorted(needed - set(names))[:5]} missing or "
                                    "sent twice): refused; run the sweep again")
    return manifest


def unpack(payload: Payload):
    """The payload as an Artifact on this host; one line naming the file when a sha256 or size differs."""
    from ..artifact.bundle import Artifact
    from ..fsutil import make_dirs, remove_tree, rename_noreplace, sha256_file
    import tempfile

    if not isinstance(payload, Payload) or not isinstance(payload.manifest, bytes):
        raise MobiledeployError("an artifact arrived in an unknown form: is every host on the same mobiledeploy?")
    name = payload.folder if FOLDER.match(str(payload.folder)) else "artifact"
    digest = hashlib.sha256(payload.manifest).hexdigest()[:16]
    base = root()
    make_dirs(base)
    target = base / f"{name}-{digest}"
    if not target.is_dir():
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=base))
        try:
            write(payload, tmp)
            os.chmod(tmp, 0o755)
            try:
                rename_noreplace(tmp, target)
                tmp = None
            except (FileExistsError, MobiledeployError, OSError):
                if not target.is_dir():
                    raise
        finally:
            if tmp is not None:
                remove_tree(tmp)
    art = Artifact.load(target)
    for fname, _ in payload.files:   # what was written before (or by another task) is checked as well
        e = art.entry(str(fname))
        p = target / e.name
        if not p.is_file() or p.stat().st_size != e.size or sha256_file(p) != e.sha256:
            raise MobiledeployError(f"{p} does not match its manifest's sha256: delete {target} and run the sweep "
                                    "again")
    return art
