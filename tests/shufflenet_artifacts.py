"""ShuffleNet V1 and V2 artifacts whose outputs mean something to compare (shared by the Android and Pi tests).

Random initialisation gives near-uniform softmax outputs (every int8 score rounds to 0, the top-5 of a test
vector is a tie broken by index), and random He weights saturate instead (one class scores 1.0 on every image):
either way agreement would prove little. These artifacts carry weights in the layouts users hand over (V2:
torchvision's state dict, V1: a Keras .h5 of this ShuffleNet) with the classifier fitted to the shared photos:
centred on their mean feature and scaled so the logits spread by a few units, each photo gets its own top-5.
"""
import json
import sys
from pathlib import Path

import numpy as np

from conftest import mobiledeploy, shared

HERE = Path(__file__).resolve().parent
#: a size every check runs quickly at, and both families build (V2 has only its four widths)
ALPHA, RESOLUTION = 0.5, 96


def weights(arch: str, folder: Path) -> Path:
    """A weights file for `arch` (shufflenet_v1 or shufflenet_v2) at ALPHA and RESOLUTION, head fitted."""
    for sub in ("", "model", "export"):
        if str(HERE / sub) not in sys.path:
            sys.path.insert(0, str(HERE / sub))
    if arch == "shufflenet_v2":
        from test_shufflenet_reference import torchvision_state_dict, write_npz

        state = torchvision_state_dict(ALPHA)
        path = write_npz(folder / "shufflenet_v2_x0_5.npz", state)
        kernel, bias = _fitted_head(arch, path)
        state["fc.weight"], state["fc.bias"] = kernel.T.copy(), bias  # torchvision's Linear: (out, in)
        return write_npz(path, state)
    from h5_layout import write_keras2_h5
    from test_shufflenet_export import _v1_keras2_h5

    path = _v1_keras2_h5(folder / "shufflenet_v1.h5", ALPHA, RESOLUTION)
    model = _model(arch, path)
    model.get_layer("fc").set_weights(list(_fitted_head(arch, path, model)))
    write_keras2_h5(path, model)
    return path


def _model(arch: str, path: Path):
    from mobiledeploy.model.families import family
    from mobiledeploy.model.weights import build_with_weights

    return build_with_weights(ALPHA, RESOLUTION, str(path), family=family(arch)).model


def _fitted_head(arch: str, path: Path, model=None, spread: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """The classifier's (kernel (in, out), bias) centred on the photos' mean feature, logits spread ~`spread`."""
    import keras
    from PIL import Image

    from mobiledeploy.runtime.images import load_rgb

    model = model if model is not None else _model(arch, path)
    kernel = model.get_layer("fc").get_weights()[0]
    features = keras.Model(model.input, model.get_layer("fc").input)
    photos = [np.asarray(Image.fromarray(load_rgb(p)).resize((RESOLUTION, RESOLUTION)), np.float32) / 127.5 - 1
              for p in sorted(shared("images").iterdir())]
    f = np.concatenate([features(photo[None]).numpy() for photo in photos])
    logits = (f - f.mean(0)) @ kernel
    kernel = (kernel * spread / logits.std()).astype(np.float32)
    return kernel, (-f.mean(0) @ kernel).astype(np.float32)


def export(arch: str, out: Path, *extra: str) -> Path:
    """Export `arch` with its weights, int8 TFLite calibrated on the shared photos (fp32 comes with it)."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    path = weights(arch, folder)
    proc = mobiledeploy("export", "--arch", arch, "--alpha", ALPHA, "--res", RESOLUTION, "--int8", "--formats",
                        "tflite", "--weights", path, "--calib", shared("images"), "--out", folder / "models", "--json", *extra, check=True)
    return Path(json.loads(proc.stdout)["artifact"])
