"""Load weights from a Keras HDF5 file by layer name, in the official Keras 2 layout
(`layer_names` / `weight_names` attributes, as in mobilenet_1_0_224_tf.h5).

Keras 3 `.weights.h5` files key layers by class-derived names (`batch_normalization_1`), not layer
names, so they load in order through Keras itself (see weights.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import MobiledeployError


def is_keras3_layout(path: Path) -> bool:
    """True for a Keras 3 `.weights.h5` file (a top-level `layers` group, no `layer_names`)."""
    import h5py

    with h5py.File(path, "r") as f:
        return "layers" in f and "layer_names" not in f.attrs and "model_weights" not in f


def read_h5_weights(path: Path) -> dict[str, list[np.ndarray]]:
    """Every layer's weight arrays from an official-layout Keras weights file, keyed by layer name."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise MobiledeployError(f"cannot read Keras weights file {path}: {exc}") from None
    with f:
        root = f["model_weights"] if "model_weights" in f else f
        if "layer_names" in root.attrs:
            out = {}
            for raw in root.attrs["layer_names"]:
                name = raw.decode() if isinstance(raw, bytes) else str(raw)
                group = root[name]
                names = [n.decode() if isinstance(n, bytes) else str(n)
                         for n in group.attrs.get("weight_names", [])]
                if names:
                    out[name] = [np.asarray(group[n]) for n in names]
            return out
    raise MobiledeployError(f"{path} is not a Keras weights file (no layer_names attribute or layers group)")


def describe_alpha(weights: dict[str, list[np.ndarray]]) -> str:
    """What the file holds, for error messages: the width from conv1's filters."""
    if "conv1" in weights:
        return f"a MobileNet v1 with alpha {weights['conv1'][0].shape[-1] / 32:g}"
    return "no conv1 layer (not a MobileNet v1 file)"


def assign_by_name(model, weights: dict[str, list[np.ndarray]], source: str) -> int:
    """Copy arrays into the model's layers of the same name; every weighted layer must be covered."""
    assigned = 0
    for layer in model.layers:
        if not layer.weights:
            continue
        arrays = weights.get(layer.name)
        if arrays is None:
            raise MobiledeployError(f"{source} has no weights for layer {layer.name}: "
                                    f"it holds {describe_alpha(weights)}")
        expected = [tuple(w.shape) for w in layer.weights]
        got = [tuple(a.shape) for a in arrays]
        if expected != got:
            raise MobiledeployError(
                f"{source} does not fit this model: layer {layer.name} has shapes {got}, the model "
                f"needs {expected}; the file holds {describe_alpha(weights)}")
        layer.set_weights(arrays)
        assigned += 1
    return assigned
