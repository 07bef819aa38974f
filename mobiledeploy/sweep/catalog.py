"""Where real weights come from: per family, alpha and resolution, the official files, and what the cache holds.

The cache is Keras's own model cache (`KERAS_HOME/models`, `export --weights imagenet` fills it too). Keras's
.h5 files are fetched from their host (or MOBILEDEPLOY_WEIGHTS_URL, a mirror); Google's TFLite files come as
`<name>.tgz` archives that a machine without internet gets some other way: `weights add` takes such a local
file or archive into the cache. `sweep --weights-dir cache` then uses every file the cache holds.
"""
from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import MobiledeployError
from ..fsutil import atomic_write
from ..model import official
from ..model.architecture import alpha_text
from ..model.families import FAMILIES, family
from . import published, sources

MAX_ARCHIVE_MEMBER = 512 << 20   # a MobileNet .tflite is at most ~17 MB; a member larger than this is not one


def tflite_names(arch: str, alpha: float, resolution: int) -> list[str]:
    """Google's TFLite files for a cell (each published inside `<name minus .tflite>.tgz`), float first."""
    stem = f"{arch}_{alpha_text(alpha)}_{resolution}"
    return [f"{stem}.tflite", f"{stem}_quant.tflite"]


@dataclass(frozen=True)
class Entry:
    """One cell of the catalogue: the files that give it real weights, and which of them the cache holds."""

    arch: str
    alpha: float
    resolution: int
    keras: str
    keras_url: str
    tflite: tuple[str, ...]
    cached: tuple[str, ...]
    published_top1: float | None

    @property
    def label(self) -> str:
        return family(self.arch).label(self.alpha, self.resolution)

    def to_dict(self) -> dict:
        return {"arch": self.arch, "alpha": self.alpha, "resolution": self.resolution, "label": self.label,
                "keras": self.keras, "keras_url": self.keras_url, "tflite": list(self.tflite),
                "tflite_archives": [n.removesuffix(".tflite") + ".tgz" for n in self.tflite],
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
                out.append(Entry(fam.name, alpha, res, keras, base + keras, tuple(tflite_names(fam.name, alpha, res)),
                                 tuple(cached.get((fam.name, round(alpha, 4), res), ())),
                                 published.top1(alpha, res, "fp32", fam.name)))
    return out


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
        taken = []
        try:
            with tarfile.open(path, "r:gz") as archive:
                for member in archive:
                    name = Path(member.name).name
                    if not member.isreg() or sources.recognise(name) is None or member.size > MAX_ARCHIVE_MEMBER:
                        continue
                    data = archive.extractfile(member).read()
                    taken.append(atomic_write(folder / name, data, mode=0o644))
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise MobiledeployError(f"{path} is not a readable .tgz archive ({exc}): give Google's archive or the "
                                    ".tflite inside it") from None
        if not taken:
            raise MobiledeployError(f"{path} holds no MobileNet weights file: expected {sources.EXPECTED}")
        return taken
    if sources.recognise(path.name) is None:
        raise MobiledeployError(f"{path.name} is not a MobileNet weights file name the sweep recognises: expected "
                                f"{sources.EXPECTED} (keep the official name)")
    if path.stat().st_size > MAX_ARCHIVE_MEMBER:
        raise MobiledeployError(f"{path} is {path.stat().st_size / 2**20:.0f} MiB: not a MobileNet weights file")
    return [atomic_write(folder / path.name, path.read_bytes(), mode=0o644)]
