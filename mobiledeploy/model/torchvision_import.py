"""Import torchvision's ShuffleNet V2 weights: its state dict, saved as a NumPy .npz under the same names.

torch is not a dependency (and a .pth file is a pickle: code, not data), so the file this reads is the
state dict written by numpy, one array per key exactly as torchvision names them:

    numpy.savez("shufflenet_v2_x1_0.npz", **{k: v.numpy() for k, v in model.state_dict().items()})

It is read with allow_pickle=False. Names map mechanically onto our layers: conv1.0 / conv1.1 (conv,
batch norm), stageS.I.branch1.{0,1,2,3} (V2's stride-2 shortcut: depthwise, bn, 1x1, bn),
stageS.I.branch2.{0,1,3,4,5,6} (1x1, bn, depthwise, bn, 1x1, bn), conv5.0 / conv5.1, fc. PyTorch kernels
are (out, in, kh, kw); Keras's are (kh, kw, in, out) and (kh, kw, channels, 1) for a depthwise one.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import MobiledeployError
from . import architecture_shufflenet as shuffle

#: A key only torchvision's ShuffleNet V2 has (the stride-2 unit's shortcut branch).
MARK = "stage2.0.branch1.0.weight"
#: Keys that tell a torchvision MobileNet (features.*) from other files, for the error a user meets.
OTHER_LAYOUTS = {"features.0.0.weight": "a torchvision MobileNet (features.*)", "conv_preds": "a Keras MobileNet"}


def is_torch_zip(path: Path) -> bool:
    """A file torch.save wrote (a zip with data.pkl): refused with the one-line conversion."""
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.endswith("data.pkl") for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def read_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz state dict (no pickles); one clear error for a damaged or foreign file."""
    if is_torch_zip(path):
        raise MobiledeployError(
            f"{path} is a PyTorch checkpoint (a pickle, which mobiledeploy does not execute): save its state dict "
            "with numpy instead: numpy.savez('weights.npz', **{k: v.numpy() for k, v in "
            "torch.load(PATH, map_location='cpu').items()}) and pass the .npz")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: np.asarray(data[name]) for name in data.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise MobiledeployError(f"cannot read {path} as a NumPy .npz state dict: {detail}") from None


def describe(state: dict[str, np.ndarray]) -> str:
    """What a state dict holds, for error messages."""
    if MARK in state:
        alpha = width_of(state)
        return f"torchvision's ShuffleNet V2 {'%gx' % alpha if alpha else 'of a width Table 5 does not have'}"
    for key, what in OTHER_LAYOUTS.items():
        if key in state:
            return what
    first = sorted(state)[:3]
    return f"arrays named {', '.join(first) or 'nothing'}: not torchvision's ShuffleNet V2 layout"


def width_of(state: dict[str, np.ndarray]) -> float | None:
    """V2's width from stage 2's channels (twice a branch's), or None."""
    try:
        stage2 = 2 * int(state["stage2.0.branch2.5.weight"].shape[0])
    except (KeyError, IndexError, TypeError):
        return None
    return next((a for a, widths in shuffle.V2_WIDTHS.items() if widths[0] == stage2), None)


def pairs(alpha: float) -> list[tuple[str, str, str]]:
    """(our layer, torchvision prefix, "conv" | "dw" | "bn") for every weighted layer of V2 at this width."""
    out = [("conv1", "conv1.0", "conv"), ("conv1_bn", "conv1.1", "bn")]
    for u in shuffle.units(2, alpha, 224):  # names do not depend on the input side
        stage, index = u.name.removeprefix("stage").split("_")
        p, n = f"stage{stage}.{index}", u.name
        if u.stride == 2:
            out += [(f"{n}_proj_dw", f"{p}.branch1.0", "dw"), (f"{n}_proj_dw_bn", f"{p}.branch1.1", "bn"),
                    (f"{n}_proj_pw", f"{p}.branch1.2", "conv"), (f"{n}_proj_pw_bn", f"{p}.branch1.3", "bn")]
        out += [(f"{n}_pw1", f"{p}.branch2.0", "conv"), (f"{n}_pw1_bn", f"{p}.branch2.1", "bn"),
                (f"{n}_dw", f"{p}.branch2.3", "dw"), (f"{n}_dw_bn", f"{p}.branch2.4", "bn"),
                (f"{n}_pw2", f"{p}.branch2.5", "conv"), (f"{n}_pw2_bn", f"{p}.branch2.6", "bn")]
    return out + [("conv5", "conv5.0", "conv"), ("conv5_bn", "conv5.1", "bn")]


def keras_arrays(state: dict[str, np.ndarray], alpha: float, source: str) -> dict[str, list[np.ndarray]]:
    """Our layer name -> its Keras weight arrays, from torchvision's state dict; every key must be there."""
    def get(key):
        if key not in state:
            raise MobiledeployError(f"{source} has no {key}: it holds {describe(state)}")
        return np.asarray(state[key], np.float32)

    out = {}
    for name, prefix, kind in pairs(alpha):
        if kind == "bn":
            out[name] = [get(f"{prefix}.{k}") for k in ("weight", "bias", "running_mean", "running_var")]
        elif kind == "dw":
            out[name] = [get(f"{prefix}.weight").transpose(2, 3, 0, 1)]
        else:
            out[name] = [get(f"{prefix}.weight").transpose(2, 3, 1, 0)]
    out["fc"] = [get("fc.weight").T, get("fc.bias")]
    return out


def load_into(model, state: dict[str, np.ndarray], alpha: float, source: str) -> None:
    """Set every weighted layer of a built ShuffleNet V2 from torchvision's state dict (shapes checked)."""
    arrays = keras_arrays(state, alpha, source)
    for layer in model.layers:
        if not layer.weights:
            continue
        given = arrays.get(layer.name)
        expected = [tuple(w.shape) for w in layer.weights]
        if given is None or [a.shape for a in given] != expected:
            got = None if given is None else [a.shape for a in given]
            raise MobiledeployError(f"{source} does not fit layer {layer.name}: it needs {expected}, the file gives "
                                    f"{got}; it holds {describe(state)}")
        layer.set_weights(given)
