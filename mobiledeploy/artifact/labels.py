"""Class names for an artifact: from --labels, from the weights, from Keras's ImageNet index, or numbered."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from ..errors import MobiledeployError

log = logging.getLogger("mobiledeploy")


MAX_BYTES = 4 << 20   # 1000 ImageNet names are 20 KB; the cap keeps /dev/zero-like files out


def read_labels(path: Path) -> list[str]:
    """One label per line; blank lines are dropped. Regular UTF-8 files of at most MAX_BYTES only."""
    path = Path(path)
    if not path.is_file():
        what = "is not a regular file" if path.exists() else "not found"
        raise MobiledeployError(f"labels file {path} {what}: give a text file with one class name per line")
    if path.stat().st_size > MAX_BYTES:
        raise MobiledeployError(f"labels file {path} is larger than {MAX_BYTES >> 20} MiB: is it the right file?")
    try:
        lines = path.read_bytes().decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise MobiledeployError(f"labels file {path} is not UTF-8 text: save it as UTF-8") from None
    except OSError as exc:
        raise MobiledeployError(f"cannot read labels file {path}: {exc.strerror or exc}") from None
    return [line.strip() for line in lines if line.strip()]


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
    from ..model.official import cache_dir

    path = cache_dir() / "imagenet_class_index.json"
    if not path.is_file():
        return None
    index = json.loads(path.read_text())
    return [index[str(i)][1] for i in range(len(index))]


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
