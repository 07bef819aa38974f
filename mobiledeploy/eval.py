"""Accuracy of an artifact's files, and of the float Keras model, on a labelled image folder."""
from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from .artifact.bundle import Artifact
from .artifact.manifest import FileEntry
from .errors import MobiledeployError
from .readers import read_text
from .export.verify import agreement
from .runtime.images import find_images, load_rgb
from .runtime.preprocess import to_float64

log = logging.getLogger("mobiledeploy")
KERAS_ROW = SimpleNamespace(name="keras", format="keras", precision="fp32")  # the float model, as a file row
WNID = re.compile(r"^(n\d{8})")
WNIDS_MAX_BYTES = 1 << 20  # 1000 ids take 10 KB; a bigger "wnids file" is the wrong file


def read_wnids(path: Path, classes: int) -> list[str]:
    """WordNet ids in class order, one per line; refuses a file that would shift or merge labels.

    `classes` counts the real classes (background excluded): a 1001-line list for a 1000-class model
    would move every label by one without any other sign, so the count must match exactly.
    """
    path = Path(path)
    text = read_text(path, "--wnids", WNIDS_MAX_BYTES, "give a text file with one WordNet id per line")
    # first word of each line: LOC_synset_mapping.txt style lines ("n01440764 tench, Tinca tinca") work too
    wnids = [line.split()[0] for line in text.splitlines() if line.strip()]
    for number, wnid in enumerate(wnids, start=1):
        if not re.fullmatch(r"n\d{8}", wnid):
            raise MobiledeployError(f"--wnids {path}: entry {number} is {wnid[:40]!r}, not a WordNet id "
                                    "(n + 8 digits, e.g. n01440764)")
    first: dict[str, int] = {}
    for number, wnid in enumerate(wnids, start=1):
        if wnid in first:
            raise MobiledeployError(f"--wnids {path} lists {wnid} twice (entries {first[wnid]} and {number}): "
                                    "each class needs its own id")
        first[wnid] = number
    if len(wnids) != classes:
        raise MobiledeployError(f"--wnids {path} has {len(wnids)} WordNet ids, the artifact has {classes} "
                                "classes (background not counted): give exactly one id per class, in the "
                                "model's class order")
    return wnids


def select_entries(artifact: Artifact, files: list[str] | None) -> list[FileEntry]:
    """The manifest entries to evaluate: all, or those named (an error listing the files when one is not there)."""
    if not files:
        return list(artifact.manifest.files)
    return [artifact.entry(name) for name in dict.fromkeys(files)]


def label_index(path: Path, root: Path, labels: list[str], wnids: list[str] | None, offset: int,
                by_name: dict[str, int] | None = None) -> int | None:
    """Class index of an image from its folder (index, label or WordNet id) or a file name starting with a wnid.

    `offset` is 1 when output 0 is background (a 1000-class wnid list then maps i -> i + 1); `by_name` maps
    lower-cased labels to indices (built once by the caller).
    """
    if by_name is None:
        by_name = {label.lower(): i for i, label in reversed(list(enumerate(labels)))}
    rel = path.relative_to(root)
    candidates = [rel.parts[0]] if len(rel.parts) > 1 else []
    match = WNID.match(path.name)
    if match:
        candidates.append(match.group(1))
    for name in candidates:
        if name.isdigit() and int(name) < len(labels):
            return int(name)
        if wnids and name in wnids:
            return wnids.index(name) + offset
        if name.lower() in by_name:
            return by_name[name.lower()]
    return None


def labelled_images(root: Path, labels: list[str], wnids: list[str] | None, offset: int):
    """[(path, class index)] for every image whose label can be read; an error when none can."""
    images = find_images(root)
    if not images:
        raise MobiledeployError(f"no images in {root}")
    by_name = {label.lower(): i for i, label in reversed(list(enumerate(labels)))}  # first wins, like list.index
    pairs = [(p, label_index(p, root, labels, wnids, offset, by_name)) for p in images]
    known = [(p, i) for p, i in pairs if i is not None]
    if not known:
        hint = "" if wnids else " (file names with WordNet ids need --wnids FILE)"
        raise MobiledeployError(f"no labels found in {root}: use one subfolder per class (index, label or "
                                f"WordNet id) or file names starting with the WordNet id{hint}")
    if len(known) < len(pairs):
        log.warning("%d of %d images have no readable label and are left out", len(pairs) - len(known), len(pairs))
    return known


def _check_memory(count: int, spec: dict, root: Path) -> None:
    """Every input is held as float64 (the exact values each file is fed): refuse a folder that cannot fit."""
    from .export.memory import GB, available_bytes

    side = int(spec.shape[1])
    # float64 inputs, their concatenated copy, and the float32 copy the Keras model is given
    need = count * side * side * 3 * (8 + 8 + 4)
    have = available_bytes()
    if have is not None and need > have:
        fits = max(1, int(have // (side * side * 3 * 20)))
        raise MobiledeployError(f"evaluating {count} images of {root} at {side}x{side} needs about {need / GB:.1f} GB "
                                f"of memory, this machine has {have / GB:.1f} GB available: evaluate at most about "
                                f"{fits} images at a time (a smaller --data folder)")


def _read_inputs(pairs: list, spec: dict, root: Path):
    """Preprocessed inputs and their classes; unreadable images are left out with one warning."""
    inputs, truth, failed = [], [], []
    for path, index in pairs:
        try:
            inputs.append(to_float64(load_rgb(path), spec))
            truth.append(index)
        except MobiledeployError as exc:
            failed.append(str(exc))
    if not inputs:
        raise MobiledeployError(f"none of the {len(pairs)} labelled images in {root} could be read "
                                f"(first: {failed[0]})")
    if failed:
        log.warning("%d of %d images could not be read and are left out (first: %s)", len(failed), len(pairs),
                    failed[0])
    return np.concatenate(inputs), np.array(truth)


def pack(correct) -> str:
    """Per-image right/wrong as hex (4 images a character), the order of the evaluated images."""
    bits = np.packbits(np.asarray(correct, dtype=bool))
    return bits.tobytes().hex()


def unpack(text: str, n: int) -> np.ndarray | None:
    """The per-image right/wrong of `pack`, or None when `text` is not n images' worth of hex."""
    if not isinstance(text, str) or type(n) is not int or n < 1 or len(text) != 2 * math.ceil(n / 8):
        return None
    try:
        return np.unpackbits(np.frombuffer(bytes.fromhex(text), dtype=np.uint8))[:n].astype(bool)
    except ValueError:
        return None


def accuracy(scores: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(top-1, top-5) fractions."""
    top5 = np.argsort(-scores, axis=1, kind="stable")[:, :5]
    return float((top5[:, 0] == truth).mean()), float((top5 == truth[:, None]).any(1).mean())


def keras_float_model(artifact: Artifact):
    """The float Keras model rebuilt from the artifact's fp32 TFLite file (verified equal at export)."""
    from .model.weights import build_with_weights

    entry = artifact.manifest.file("tflite", "fp32")
    m = artifact.manifest.model
    from .model.families import family

    return build_with_weights(m.alpha, m.resolution, str(artifact.path(entry)), m.background,
                              family=family(m.architecture)).model


def evaluate(artifact: Artifact, data: Path, wnids: list[str] | None = None, files: list[str] | None = None,
             keras: bool = True, progress=None) -> dict:
    """Top-1/top-5 of every file (and Keras float), plus top-1 agreement of each with the float model."""
    from .runtime.session import Session

    labels = artifact.labels
    offset = int(artifact.manifest.model.background)
    entries = select_entries(artifact, files)
    pairs = labelled_images(Path(data), labels, wnids, offset)
    spec = artifact.manifest.input
    _check_memory(len(pairs), spec, Path(data))
    inputs, truth = _read_inputs(pairs, spec, Path(data))
    outputs = {}
    for e in entries:
        session = Session(artifact.path(e))
        outputs[e.name] = (e, np.concatenate([session.run(x[None]) for x in inputs]))
        if progress:
            progress(1)
    if keras:
        model = keras_float_model(artifact)
        outputs["keras"] = (KERAS_ROW,
                            model.predict(inputs.astype(np.float32), batch_size=16, verbose=0))
        if progress:
            progress(1)
    fp32 = next((e.name for e in artifact.manifest.files if (e.format, e.precision) == ("tflite", "fp32")), None)
    reference = outputs.get("keras", outputs.get(fp32, (None, None)))[1]
    results = []
    for name, (e, scores) in outputs.items():
        top1, top5 = accuracy(scores, truth)
        row = {"file": e.name, "format": e.format, "precision": e.precision, "n": len(truth),
               "top1": top1, "top5": top5, "correct": pack(scores.argmax(1) == truth)}
        if reference is not None:
            agree = agreement(reference, scores)
            row["agreement_with_float"] = agree["strict"]
            row["agreement_with_float_tie_aware"] = agree["tie_aware"]
        results.append(row)
    return {"artifact": str(artifact.folder), "data": str(data), "n": len(truth), "results": results,
            "predictions": {name: scores.argmax(1).tolist() for name, (_, scores) in outputs.items()}}
