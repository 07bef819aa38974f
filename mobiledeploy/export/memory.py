"""Will an export fit in memory? An estimate from the layer table, compared with what the machine has.

An export at a huge --res does not fail quickly: TensorFlow allocates until the kernel's OOM killer
ends the process minutes later, with no message. So the export is refused up front when its estimated
peak exceeds the memory available (MemAvailable, or a lower cgroup limit).

The estimate, fitted to peak RSS measured with /usr/bin/time -v (alpha 1, --weights none, 2-core x86-64;
exact commands in README "Memory"):
    peak = BASE + PER_BYTE * (float32 activations of every layer at batch 1 + float32 inputs held)
           + WEIGHT_COPIES * float32 weights
Measured (estimate in brackets):
    tflite --int8, data-free, 40 inputs:  res 224 1.08 GB (1.33), 448 1.18 (1.53), 896 2.35 (2.90)
    onnx fp32, 8 inputs:                  res 224 0.86 (1.18), 448 0.92 (1.30), 896 1.62 (1.94)
    tflite --int8 --calib (300 images, 200 + 50 held): res 448 2.04 GB (2.82)
    tflite fp32, 8 inputs:                res 1344 2.62 GB (3.37)
    onnx --int8 --calib-method entropy, 200 images: res 224 10.08 GB (11.30): onnxruntime's histogram
      calibrators keep every activation of every calibration image (the `kept` term)
BASE and PER_BYTE fit the 224 and 896 data-free points (the converter and its calibrator hold every
activation and the inputs about twice) and are rounded up for margin; the other rows check them.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import MobiledeployError
from ..model import architecture as arch
from ..model.families import FAMILIES, DEFAULT
from ..model.cost import summary

GB = 1 << 30
BASE = int(1.1 * GB)   # TensorFlow, Keras, the converter and onnxruntime loaded, a small model exported
PER_BYTE = 2.5         # fitted 2.0-2.1 on the measurements above, +20% margin
WEIGHT_COPIES = 8      # Keras variables, SavedModel, converter graph, flatbuffer, ONNX proto, sessions


def activation_bytes(alpha: float, resolution: int, outputs: int = arch.IMAGENET_CLASSES, family=None) -> int:
    """Float32 bytes of every layer's output plus the input, for one image."""
    layers = (family or FAMILIES[DEFAULT]).layers(alpha, resolution, outputs)
    return 4 * (resolution * resolution * 3 + sum(layer.out_size ** 2 * layer.cout for layer in layers))


def estimate(alpha: float, resolution: int, inputs: int, outputs: int = arch.IMAGENET_CLASSES,
             kept: int = 0, family=None) -> int:
    """Estimated peak resident bytes of an export that holds `inputs` preprocessed images.

    `kept`: images whose every activation is kept at once (onnxruntime's entropy and percentile
    calibrators store all outputs of all calibration images before building histograms; min/max
    reduces each to two numbers in the graph).
    """
    held = inputs * resolution * resolution * 3 * 4
    family = family or FAMILIES[DEFAULT]
    weights = summary(alpha, resolution, outputs, family)["params"] * 4
    activations = activation_bytes(alpha, resolution, outputs, family) * (1 + kept)
    return int(BASE + PER_BYTE * (activations + held) + WEIGHT_COPIES * weights)


def available_bytes() -> int | None:
    """Memory this process can still use: MemAvailable, lowered by a cgroup v2 limit and by `ulimit -v`; None
    when unknown."""
    found = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        if limit != "max" and found is not None:
            found = min(found, int(limit) - used)
    except (OSError, ValueError):
        pass
    return _address_space_left(found)


def _address_space_left(found: int | None) -> int | None:
    """`ulimit -v` (RLIMIT_AS) counts too: what is left of it beside this process's address space now."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY:
            return found
        size = next(int(line.split()[1]) * 1024 for line in Path("/proc/self/status").read_text().splitlines()
                    if line.startswith("VmSize:"))
    except (ImportError, OSError, ValueError, StopIteration):
        return found
    left = max(0, soft - size)
    return left if found is None else min(found, left)


def largest_fitting(alpha: float, inputs: int, budget: int, outputs: int, kept: int = 0,
                    family=None) -> int | None:
    """The largest multiple-of-32 side whose estimate fits `budget`, or None when not even 32 does."""
    lo, hi = 1, arch.MAX_RESOLUTION // 32
    if estimate(alpha, 32, inputs, outputs, kept, family) > budget:
        return None
    while lo < hi:  # the estimate grows with the side: bisect on multiples of 32
        mid = (lo + hi + 1) // 2
        if estimate(alpha, 32 * mid, inputs, outputs, kept, family) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return 32 * lo


def check(alpha: float, resolution: int, inputs: int, outputs: int = arch.IMAGENET_CLASSES, kept: int = 0,
          available: int | None = None, family=None) -> int:
    """Refuse an export whose estimated peak exceeds available memory; returns the estimate in bytes."""
    need = estimate(alpha, resolution, inputs, outputs, kept, family)
    have = available_bytes() if available is None else available
    if have is None or need <= have:
        return need
    fits = largest_fitting(alpha, inputs, have, outputs, kept, family)
    hint = f"use --res {fits} or less" if fits else "use a smaller --alpha"
    held = PER_BYTE * inputs * resolution * resolution * 12
    raise MobiledeployError(
        f"an export of alpha {alpha:g} at {resolution}x{resolution} needs about {need / GB:.1f} GB of memory "
        f"(estimate), this machine has {have / GB:.1f} GB available: {hint}, or hold fewer images "
        f"(--calib-count/--verify-count: {inputs} images take {held / GB:.1f} GB of the estimate)"
        + (" or --calib-method minmax" if kept else ""))
