"""Load weights from a Keras HDF5 file by layer name, in the official Keras 2 layout
(`layer_names` / `weight_names` attributes, as in mobilenet_1_0_224_tf.h5).

Keras 3 `.weights.h5` files key layers by class-derived names (`batch_normalization_1`), not layer
names, so they load in order through Keras itself (see weights.py)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import MobiledeployError
from . import families

#: What h5py and numpy raise on a damaged or foreign file (truncated data, missing groups, odd types).
H5_ERRORS = (OSError, KeyError, ValueError, TypeError, AttributeError, IndexError)


def _damaged(path: Path, exc: Exception) -> MobiledeployError:
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return MobiledeployError(f"cannot read Keras weights file {path}: {detail} (truncated, damaged or not a "
                             "Keras weights file?)")


def is_keras3_layout(path: Path) -> bool:
    """True for a Keras 3 `.weights.h5` file (a top-level `layers` group, no `layer_names`)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return "layers" in f and "layer_names" not in f.attrs and "model_weights" not in f
    except H5_ERRORS as exc:
        raise _damaged(path, exc) from None


def keras3_shapes(path: Path) -> dict[str, tuple]:
    """Kernel shapes of a Keras 3 `.weights.h5` MobileNet under our layer names (conv1, conv_pw_k, conv_preds;
    Conv1, block_k_project, Conv_1, predictions).

    Keras 3 names its groups after layer classes in model order (conv2d, conv2d_1, ...). A v2 file has a
    Dense group: its Conv2D layers are, in order, the stem, the expansions and projections (the first
    block has no expansion) and Conv_1. In a v1 file the first Conv2D is conv1, the one with a bias is
    the classifier, the others are the pointwise layers in order.
    """
    import h5py

    def order(name):
        number = re.search(r"_(\d+)$", name)
        return int(number.group(1)) if number else 0

    try:
        with h5py.File(path, "r") as f:
            groups = f["layers"]
            convs = sorted((n for n in groups if re.fullmatch(r"conv2d(_\d+)?", n)), key=order)
            shapes = [(tuple(groups[n]["vars"]["0"].shape), "1" in groups[n]["vars"]) for n in convs]
            dense = sorted((n for n in groups if re.fullmatch(r"dense(_\d+)?", n)), key=order)
            dense_shape = tuple(groups[dense[-1]]["vars"]["0"].shape) if dense else None
    except H5_ERRORS as exc:
        raise _damaged(path, exc) from None
    if dense_shape is not None:
        return _v2_shapes([shape for shape, _ in shapes], dense_shape)
    out = {}
    pointwise = [shape for shape, has_bias in shapes[1:] if not has_bias]
    if shapes and len(shapes[0][0]) == 4 and shapes[0][0][:3] == (3, 3, 3):
        out["conv1"] = shapes[0][0]
    for number, shape in enumerate(pointwise, start=1):
        out[f"conv_pw_{number}"] = shape
    preds = [shape for shape, has_bias in shapes if has_bias]
    if preds:
        out["conv_preds"] = preds[-1]
    return out


def _v2_shapes(convs: list[tuple], dense: tuple) -> dict[str, tuple]:
    """A Keras 3 MobileNetV2 file's Conv2D kernels, in order, under the layer names they belong to."""
    names = [layer.name for layer in families.v2_family.layers(1.0, 32, None) if layer.kind != "dw"]
    out = dict(zip(names, convs)) if len(convs) == len(names) else {}
    out[families.v2_family.classifier] = dense
    return out


def describe(shapes: dict[str, tuple]) -> str:
    """What a weights file holds, for error messages: the family, alpha from its channel counts, its outputs."""
    family = families.of_layer_names(shapes)
    if family is None:
        known = " or ".join(f"{f.width_layers[0]} ({f.title})" for f in families.FAMILIES.values())
        return f"no {known} layer: not a MobileNet file"
    widths = {name: int(shape[-1]) for name, shape in shapes.items() if name in family.width_layers}
    alpha = family.alpha_of(widths)
    first = family.width_layers[0]
    width = (f"alpha {alpha:g}" if alpha is not None
             else f"channel counts no alpha builds ({first} {widths.get(first, '?')})")
    outputs = f" and {shapes[family.classifier][-1]} outputs" if family.classifier in shapes else ""
    return f"a {family.title} with {width}{outputs}"


def read_h5_weights(path: Path) -> dict[str, list[np.ndarray]]:
    """Every layer's weight arrays from an official-layout Keras weights file, keyed by layer name."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
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
    except H5_ERRORS as exc:
        raise _damaged(path, exc) from None
    raise MobiledeployError(f"{path} is not a Keras weights file (no layer_names attribute or layers group)")


def describe_alpha(weights: dict[str, list[np.ndarray]]) -> str:
    """What a Keras 2 layout file holds, for error messages (see describe)."""
    return describe({name: arrays[0].shape for name, arrays in weights.items() if arrays})


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
