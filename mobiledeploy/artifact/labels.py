"""Class names for an artifact: from --labels, from the weights, from Keras's ImageNet index, or numbered."""
from __future__ import annotations

import logging
from pathlib import Path

from ..errors import MobiledeployError
from ..home import keras_cache_dir
from ..readers import read_json, read_text

log = logging.getLogger("mobiledeploy")


MAX_BYTES = 4 << 20   # 1000 ImageNet names are 20 KB; the cap keeps /dev/zero-like files out


def read_lines(path: Path, fix: str = "give a text file with one class name per line") -> list[str]:
    """The lines of a labels file, as they are (the one reader of labels: --labels and an artifact's labels.txt)."""
    return read_text(path, "labels file", MAX_BYTES, fix).splitlines()


def read_labels(path: Path) -> list[str]:
    """One label per line; blank lines are dropped. Regular UTF-8 files of at most MAX_BYTES only."""
    return [line.strip() for line in read_lines(Path(path)) if line.strip()]


def fit(labels: list[str], outputs: int, background: bool, source: str) -> list[str]:
    """Match a label list to the model's outputs, adding or dropping a leading background line."""
    if len(labels) == outputs:
        return labels
    if len(labels) == outputs + 1 and not background:
        return labels[1:]
    if len(labels) + 1 == outputs and background:
        return ["background"] + labels
    raise MobiledeployError(f"{source} has {len(labels)} labels, the model has {outputs} outputs")


def _keras_imagenet_index() -> list[str] | None:
    path = keras_cache_dir() / "imagenet_class_index.json"
    if not path.exists():
        return None
    index = read_json(path, "Keras ImageNet index", MAX_BYTES, "delete it (Keras downloads it again)")
    try:
        return [str(index[str(i)][1]) for i in range(len(index))]
    except (KeyError, IndexError, TypeError):
        raise MobiledeployError(f"{path} is not Keras's ImageNet class index: delete it (Keras downloads it "
                                "again)") from None


def resolve(labels_file: str | None, carried: list[str] | None, outputs: int, background: bool):
    """(labels, source) for the artifact."""
    if labels_file:
        return fit(read_labels(Path(labels_file)), outputs, background, labels_file), str(labels_file)
    if carried:
        return fit(carried, outputs, background, "the weights file's labels"), "weights metadata"
    keras_index = _keras_imagenet_index()
    if keras_index and len(keras_index) + int(background) == outputs:
        return fit(keras_index, outputs, background, "Keras's ImageNet index"), "keras imagenet_class_index.json"
    log.warning("no class names known: labels.txt numbers the classes (pass --labels FILE)")
    return [f"class_{i}" for i in range(outputs)], "numbered"
