"""Accuracy of an artifact's files, and of the float Keras model, on a labelled image folder."""
from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from .artifact.bundle import Artifact
from .errors import MobiledeployError
from .export.verify import agreement
from .runtime.images import find_images, load_rgb
from .runtime.preprocess import to_float64

log = logging.getLogger("mobiledeploy")
WNID = re.compile(r"^(n\d{8})")


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


def accuracy(scores: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(top-1, top-5) fractions."""
    top5 = np.argsort(-scores, axis=1, kind="stable")[:, :5]
    return float((top5[:, 0] == truth).mean()), float((top5 == truth[:, None]).any(1).mean())


def keras_float_model(artifact: Artifact):
    """The float Keras model rebuilt from the artifact's fp32 TFLite file (verified equal at export)."""
    from .model.weights import build_with_weights

    entry = artifact.entry(precision="fp32", fmt="tflite")
    m = artifact.manifest["model"]
    return build_with_weights(m["alpha"], m["resolution"], str(artifact.path(entry)), m["background"]).model


def evaluate(artifact: Artifact, data: Path, wnids: list[str] | None = None, files: list[str] | None = None,
             keras: bool = True, progress=None) -> dict:
    """Top-1/top-5 of every file (and Keras float), plus top-1 agreement of each with the float model."""
    from .runtime.session import Session

    labels = artifact.labels
    offset = int(artifact.manifest["model"]["background"])
    pairs = labelled_images(Path(data), labels, wnids, offset)
    spec = artifact.manifest["input"]
    inputs = np.concatenate([to_float64(load_rgb(p), spec) for p, _ in pairs])
    truth = np.array([i for _, i in pairs])
    entries = [e for e in artifact.manifest["files"] if not files or e["name"] in files]
    outputs = {}
    for e in entries:
        session = Session(artifact.path(e))
        outputs[e["name"]] = (e, np.concatenate([session.run(x[None]) for x in inputs]))
        if progress:
            progress(1)
    if keras:
        model = keras_float_model(artifact)
        outputs["keras"] = ({"name": "keras", "format": "keras", "precision": "fp32"},
                            model.predict(inputs.astype(np.float32), batch_size=16, verbose=0))
        if progress:
            progress(1)
    reference = outputs.get("keras", outputs.get("model_fp32.tflite", (None, None)))[1]
    results = []
    for name, (e, scores) in outputs.items():
        top1, top5 = accuracy(scores, truth)
        row = {"file": e["name"], "format": e["format"], "precision": e["precision"], "n": len(truth),
               "top1": top1, "top5": top5}
        if reference is not None:
            agree = agreement(reference, scores)
            row["agreement_with_float"] = agree["strict"]
            row["agreement_with_float_tie_aware"] = agree["tie_aware"]
        results.append(row)
    return {"artifact": str(artifact.folder), "data": str(data), "n": len(truth), "results": results,
            "predictions": {name: scores.argmax(1).tolist() for name, (_, scores) in outputs.items()}}
