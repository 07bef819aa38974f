"""Where real weights come from: per family, alpha and resolution, the official files, and what the cache holds.

The cache is Keras's own model cache (`KERAS_HOME/models`, `export --weights imagenet` fills it too). Keras's
.h5 files are fetched from their host; Google's TFLite files come inside `.tgz` archives (TF-slim's model cards
and TensorFlow Lite's hosted-models page), from which `weights fetch --kind tflite|tflite-quant` takes the one
`.tflite` file into the cache. MOBILEDEPLOY_WEIGHTS_URL names a mirror holding every file (the .h5 files and the
.tgz archives side by side). A machine without internet gets the file or archive some other way: `weights add`
takes such a local copy into the cache (the fallback every failed download names). `sweep --weights-dir cache`
then uses every file the cache holds.

An archive is untrusted input: only its one expected member (the `.tflite` of that name, as a regular file,
within the size cap and starting like a TFLite file) is written, by its base name, into the cache; links,
devices and every other member are never extracted, and the download and the bytes decompressed are capped.
"""
from __future__ import annotations

import gzip
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import MobiledeployError
from ..fsutil import atomic_write, remove_tree
from ..model import official
from ..model.architecture import alpha_text
from ..model.families import FAMILIES, family
from . import published, sources

MAX_ARCHIVE_MEMBER = 512 << 20   # a MobileNet .tflite is at most ~25 MB; a member larger than this is not one
MAX_DOWNLOAD = 512 << 20         # Google's largest MobileNet archive (V2 1.4-224, checkpoint and all) is ~100 MB
MAX_UNPACKED = 2 << 30           # bytes decompressed while looking for the member: a gzip bomb stops here
TIMEOUT = 60                     # seconds without a byte from the server
TFLITE_MAGIC = b"TFL3"           # a TFLite flatbuffer's file identifier, at bytes 4-8

#: Google's archives: (family, kind) -> (URL folder, the cells published that way or None for every official cell).
#: v1: TF-slim mobilenet_v1.md (float checkpoints 2018_02_22, quantization-aware 2018_08_02), each .tgz holding the
#: checkpoint, the frozen graph and `<name>.tflite`. V2 float: TF-slim mobilenet/README.md's checkpoints, with a
#: `<name>.tflite` each; V2 quant: TensorFlow Lite's hosted models, 1.0-224 only.
DOWNLOADS = "https://storage.googleapis.com/download.tensorflow.org/models/"
ARCHIVES = {
    ("mobilenet_v1", "tflite"): (DOWNLOADS + "mobilenet_v1_2018_02_22/", None),
    ("mobilenet_v1", "tflite-quant"): (DOWNLOADS + "mobilenet_v1_2018_08_02/", None),
    ("mobilenet_v2", "tflite"): ("https://storage.googleapis.com/mobilenet_v2/checkpoints/",
                                 frozenset(published.V2_TABLE)),
    ("mobilenet_v2", "tflite-quant"): (DOWNLOADS + "tflite_11_05_08/", frozenset({(1.0, 224)})),
}
KINDS = ("keras-h5", "tflite", "tflite-quant")


@dataclass(frozen=True)
class Archive:
    """One of Google's .tgz archives: where it is published and which file inside it gives the weights."""

    kind: str        # "tflite" (float) or "tflite-quant" (quantization-aware, uint8)
    name: str        # mobilenet_v1_0.5_128_quant.tgz
    url: str         # the official URL (a mirror replaces everything before the name)
    member: str      # mobilenet_v1_0.5_128_quant.tflite, at the archive's top

    def to_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "url": self.url, "member": self.member}


def archives(arch: str, alpha: float, resolution: int) -> list[Archive]:
    """Google's TFLite archives of a cell, float first; [] where Google published none."""
    out = []
    for kind in ("tflite", "tflite-quant"):
        folder, cells = ARCHIVES.get((arch, kind), (None, None))
        if folder is None or (cells is not None and (round(alpha, 4), resolution) not in cells):
            continue
        stem = f"{arch}_{alpha_text(alpha)}_{resolution}" + ("_quant" if kind == "tflite-quant" else "")
        out.append(Archive(kind, f"{stem}.tgz", f"{folder}{stem}.tgz", f"{stem}.tflite"))
    return out


def tflite_names(arch: str, alpha: float, resolution: int) -> list[str]:
    """Google's TFLite files for a cell (each published inside the .tgz archive of the same name), float first."""
    return [a.member for a in archives(arch, alpha, resolution)]


@dataclass(frozen=True)
class Entry:
    """One cell of the catalogue: the files that give it real weights, and which of them the cache holds."""

    arch: str
    alpha: float
    resolution: int
    keras: str
    keras_url: str
    archives: tuple[Archive, ...]
    cached: tuple[str, ...]
    published_top1: float | None

    @property
    def label(self) -> str:
        return family(self.arch).label(self.alpha, self.resolution)

    @property
    def tflite(self) -> tuple[str, ...]:
        return tuple(a.member for a in self.archives)

    def to_dict(self) -> dict:
        return {"arch": self.arch, "alpha": self.alpha, "resolution": self.resolution, "label": self.label,
                "keras": self.keras, "keras_url": self.keras_url, "tflite": list(self.tflite),
                "tflite_archives": [a.name for a in self.archives],
                "archives": [a.to_dict() for a in self.archives],
                "cached": list(self.cached), "published_top1": self.published_top1}


def cache_dir() -> Path:
    return official.cache_dir()


def _cached() -> dict[tuple[str, float, int], list[str]]:
    folder = cache_dir()
    out: dict[tuple[str, float, int], list[str]] = {}
    if folder.is_dir():
        for p in sorted(folder.iterdir()):
            known = sources.recognise(p.name)
            if known is not None and p.is_file():
                out.setdefault(known[0], []).append(p.name)
    return out


def entries(archs=None) -> list[Entry]:
    """Every official cell of the families asked for (default: all), with its files and their cache state."""
    cached = _cached()
    out = []
    for name in archs or list(FAMILIES):
        fam = family(name)
        base = official.base_url(fam)
        for alpha in fam.official_alphas:
            for res in fam.official_resolutions:
                keras = official.file_name(alpha, res, fam)
                out.append(Entry(fam.name, alpha, res, keras, base + keras, tuple(archives(fam.name, alpha, res)),
                                 tuple(cached.get((fam.name, round(alpha, 4), res), ())),
                                 published.top1(alpha, res, "fp32", fam.name)))
    return out


def fetch(arch: str, alpha: float, resolution: int, kind: str = "keras-h5") -> Path:
    """One official file of a cell in the cache: Keras's .h5, or the .tflite out of Google's float or quant archive.

    Already cached: returned as is. Offline (or any failed download): one line naming the URL and the local-file
    fallback (`weights add FILE`)."""
    fam = family(arch)
    if kind not in KINDS:
        raise MobiledeployError(f"--kind {kind!r}: one of {', '.join(KINDS)}")
    if kind == "keras-h5":
        return official.fetch(alpha, resolution, fam)
    found = [a for a in archives(fam.name, alpha, resolution) if a.kind == kind]
    if not found:
        cells = sorted(ARCHIVES[(fam.name, kind)][1] or ())
        where = (f" (only {', '.join(fam.label(a, r) for a, r in cells)})" if cells else "")
        raise MobiledeployError(
            f"Google published no {kind} archive of {fam.label(alpha, resolution)}{where}: see "
            f"`mobiledeploy weights list --arch {fam.name}` for the cells that have one")
    archive = found[0]
    target = cache_dir() / archive.member
    if target.is_file():
        return target
    url = _mirrored(archive)
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{archive.name}.tmp-", dir=folder)
    os.close(fd)
    try:
        try:
            _download(url, Path(tmp))
        except (OSError, ValueError) as exc:
            reason = str(getattr(exc, "reason", None) or exc).splitlines()[0] or type(exc).__name__
            raise MobiledeployError(
                f"cannot download {url} ({reason}): download {archive.name} another way and run: mobiledeploy "
                f"weights add {archive.name}") from None
        taken = _unpack(Path(tmp), archive.name, only={archive.member})
        if not taken:
            raise MobiledeployError(f"{url} holds no {archive.member} at its top: not Google's archive (give the "
                                    f"file itself with mobiledeploy weights add FILE)")
        return taken[0]
    finally:
        remove_tree(tmp)


def _mirrored(archive: Archive) -> str:
    mirror = os.environ.get("MOBILEDEPLOY_WEIGHTS_URL")
    return mirror.rstrip("/") + "/" + archive.name if mirror else archive.url


def _download(url: str, path: Path) -> None:
    """Stream `url` into `path`, at most MAX_DOWNLOAD bytes; http(s) only."""
    import urllib.request

    if not url.startswith(("https://", "http://")):
        raise ValueError(f"not an http(s) URL: {url}")
    size = 0
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response, open(path, "wb") as f:  # noqa: S310 (checked)
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > MAX_DOWNLOAD:
            raise ValueError(f"{int(declared) >> 20} MiB, more than any MobileNet archive")
        while chunk := response.read(1 << 20):
            size += len(chunk)
            if size > MAX_DOWNLOAD:
                raise ValueError(f"more than {MAX_DOWNLOAD >> 20} MiB, more than any MobileNet archive")
            f.write(chunk)


class _Capped:
    """A read-only stream that refuses to give more than `limit` bytes (a gzip bomb ends here, not in memory)."""

    def __init__(self, raw, limit: int, name: str):
        self.raw, self.left, self.name = raw, limit, name

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size if size is not None and size >= 0 else (1 << 20))
        self.left -= len(data)
        if self.left < 0:
            raise MobiledeployError(f"{self.name} unpacks to more than {MAX_UNPACKED >> 30} GiB: not a MobileNet "
                                    "archive")
        return data


def _unpack(path: Path, shown: str, only: set[str] | None = None) -> list[Path]:
    """The weights files of a .tgz into the cache; `only`: just these names, and only at the archive's top.

    The archive is read as a stream (no seeking, nothing else extracted): a member is taken when its base name is
    a weights file name, it is a regular file (not a link, device or FIFO) within MAX_ARCHIVE_MEMBER, and a
    .tflite one starts like a TFLite file; it is written by that base name, so no path inside the archive can
    reach outside the cache folder."""
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    taken = []
    try:
        with gzip.open(path, "rb") as raw, tarfile.open(fileobj=_Capped(raw, MAX_UNPACKED, shown), mode="r|") as tar:
            for member in tar:
                name = Path(member.name).name
                if only is not None and (name not in only or member.name.removeprefix("./") != name):
                    continue
                if only is not None and (not member.isreg() or member.size > MAX_ARCHIVE_MEMBER):
                    what = "not a regular file (a link or a device)" if not member.isreg() else "too large"
                    raise MobiledeployError(f"{shown}: {member.name} is {what}: not Google's archive")
                if sources.recognise(name) is None or not member.isreg() or member.size > MAX_ARCHIVE_MEMBER:
                    continue
                data = tar.extractfile(member).read()
                if name.endswith(".tflite") and data[4:8] != TFLITE_MAGIC:
                    raise MobiledeployError(f"{shown}: {member.name} is not a TFLite file (no TFL3 identifier): "
                                            "not Google's archive")
                taken.append(atomic_write(folder / name, data, mode=0o644))
    except (tarfile.TarError, OSError, EOFError, gzip.BadGzipFile) as exc:
        raise MobiledeployError(f"{shown} is not a readable .tgz archive ({exc}): give Google's archive or the "
                                ".tflite inside it") from None
    return taken


def add(path) -> list[Path]:
    """Take a local weights file, or the .tgz archive Google publishes it in, into the cache; the files added.

    Only members whose names are weights file names (sources.recognise) are taken, by their base name, as
    regular files of sane size: an archive cannot write outside the cache or replace anything else."""
    path = Path(path)
    if not path.is_file():
        raise MobiledeployError(f"{path} is not a file: give a weights file or a .tgz archive of one")
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    if path.name.endswith((".tgz", ".tar.gz")):
        taken = _unpack(path, str(path))
        if not taken:
            raise MobiledeployError(f"{path} holds no MobileNet weights file: expected {sources.EXPECTED}")
        return taken
    if sources.recognise(path.name) is None:
        raise MobiledeployError(f"{path.name} is not a MobileNet weights file name the sweep recognises: expected "
                                f"{sources.EXPECTED} (keep the official name)")
    if path.stat().st_size > MAX_ARCHIVE_MEMBER:
        raise MobiledeployError(f"{path} is {path.stat().st_size / 2**20:.0f} MiB: not a MobileNet weights file")
    data = path.read_bytes()
    if path.name.endswith(".tflite") and data[4:8] != TFLITE_MAGIC:
        raise MobiledeployError(f"{path} is not a TFLite file (no TFL3 identifier): give Google's file")
    return [atomic_write(folder / path.name, data, mode=0o644)]
