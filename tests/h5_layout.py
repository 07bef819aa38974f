"""Write a Keras weights file in the official Keras 2 HDF5 layout (as mobilenet_1_0_224_tf.h5 is):
root attributes `layer_names`, one group per layer with `weight_names` and one dataset per weight."""
from __future__ import annotations

import h5py
import numpy as np

SUFFIXES = {2: ("kernel:0", "bias:0"), 1: ("kernel:0",), 4: ("gamma:0", "beta:0", "moving_mean:0", "moving_variance:0")}


def write_keras2_h5(path, model) -> None:
    """Every weighted layer of `model` under its name, Keras 2 style."""
    with h5py.File(path, "w") as f:
        names = [layer.name for layer in model.layers]
        f.attrs["layer_names"] = np.array([n.encode() for n in names])
        f.attrs["backend"] = b"tensorflow"
        for layer in model.layers:
            group = f.create_group(layer.name)
            arrays = layer.get_weights()
            wnames = [f"{layer.name}/{s}".encode() for s in SUFFIXES.get(len(arrays), ())][:len(arrays)]
            group.attrs["weight_names"] = np.array(wnames)
            for name, arr in zip(wnames, arrays):
                group.create_dataset(name.decode(), data=arr)
