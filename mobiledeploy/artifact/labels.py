"""Class names for an artifact: from --labels, from the weights, from Keras's ImageNet index, or numbered."""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from ..errors import MobiledeployError
from ..home import keras_cache_dir
from ..readers import decode, read_bytes, read_json, read_text

log = logging.getLogger("mobiledeploy")


MAX_BYTES = 4 << 20   # 1000 ImageNet names are 20 KB; the cap keeps /dev/zero-like files out


def read_lines(path: Path, fix: str = "give a text file with one class name per line",
               sha256: str | None = None) -> list[str]:
    """The lines of a labels file, as they are (the one reader of labels: --labels and an artifact's labels.txt).

    With `sha256`, the bytes must have that digest: the hash is of the very bytes decoded, so a file swapped
    between a check and a read cannot slip through.
    """
    if sha256 is None:
        return read_text(path, "labels file", MAX_BYTES, fix).splitlines()
    data = read_bytes(path, "labels file", MAX_BYTES, fix)
    text = decode(data, "labels file", path, fix)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise MobiledeployError(f"labels file {path} does not match its sha256 in the manifest (modified?): {fix}")
    return text.splitlines()


def digest(lines: list[str]) -> tuple[bytes, str]:
    """(bytes, sha256) of a labels file holding `lines`: what the exporter writes and records in the manifest."""
    data = ("\n".join(lines) + "\n").encode("utf-8")
    return data, hashlib.sha256(data).hexdigest()


def printable(text: str) -> str:
    """`text` safe for a terminal: control characters, escape sequences and invisible format characters (bidi
    overrides) shown as \\x1b-style escapes. A label is data from a file; printed raw, ESC [ ... could rewrite the
    screen or the window title of whoever reads the output."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def _escape(c: str) -> str:
    n = ord(c)
    if 0xDC80 <= n <= 0xDCFF:  # a byte of a non-UTF-8 file name (surrogateescape): show the byte itself
        return f"\\x{n - 0xDC00:02x}"
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


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
