"""Classify images with one file of an artifact, fed exactly as its manifest says."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..artifact.bundle import Artifact
from ..errors import MobiledeployError
from .preprocess import to_float64
from .session import Session

TOP_K = 5   # classes shown per image (predict, the Pi classifier)


@dataclass
class Prediction:
    """One class of a top-k list."""

    index: int
    label: str
    score: float


class Classifier:
    """An artifact file ready to classify RGB images."""

    def __init__(self, artifact, file: str | None = None, threads: int | None = None):
        self.artifact = artifact if isinstance(artifact, Artifact) else Artifact.load(artifact)
        self.entry = self.artifact.entry(file) if file else self.artifact.manifest.default_file()
        self.session = Session(self.artifact.path(self.entry), threads=threads)
        self.labels = self.artifact.labels
        self.spec = self.artifact.manifest.input
        if list(self.session.input_shape) != list(self.spec.shape):
            raise MobiledeployError(f"{self.entry.name} takes input {self.session.input_shape}, the manifest "
                                    f"says {list(self.spec.shape)}: re-export the artifact")
        check_io(self.entry, self.session)

    def tensor(self, rgb: np.ndarray) -> np.ndarray:
        """The exact tensor this file is fed for an HxWx3 uint8 RGB image."""
        return self.session.prepare(to_float64(rgb, self.spec))

    def scores(self, rgb: np.ndarray) -> np.ndarray:
        """Float scores for every output."""
        return self.session.dequantize(self.session.invoke(self.tensor(rgb)))[0]

    def top(self, scores: np.ndarray, k: int = TOP_K) -> list[Prediction]:
        """Top-k by score; ties keep the lower index first (as argmax does)."""
        order = np.argsort(-scores, kind="stable")[:k]
        return [Prediction(int(i), self.labels[i], float(scores[i])) for i in order]

    def classify(self, rgb: np.ndarray, k: int = TOP_K) -> list[Prediction]:
        """Top-k predictions for one image."""
        return self.top(self.scores(rgb), k)

    def predict(self, image, k: int = TOP_K) -> list[Prediction]:
        """Top-k predictions for an image file (jpg, png, bmp)."""
        from .images import load_rgb

        return self.classify(load_rgb(image), k)


def _same_quant(declared, actual) -> bool:
    if declared is None or actual is None:
        return declared is None and actual is None
    scale, zero = actual
    return abs(declared.scale - float(scale)) <= 1e-6 * max(1.0, abs(float(scale))) and declared.zero_point == int(zero)


def check_io(entry, session) -> None:
    """The manifest's dtype and quantization of a file's input and output must be the file's own: every consumer
    (this runtime, the Pi, the Android app, which reads them from the manifest) then feeds it alike."""
    for side, declared, dtype, quant in (("input", entry.input, session.input_dtype, session.input_quant),
                                         ("output", entry.output, session.output_dtype, session.output_quant)):
        if declared.dtype != np.dtype(dtype).name or not _same_quant(declared.quantization, quant):
            q = declared.quantization
            said = f"{declared.dtype}" + (f" (scale {q.scale:g}, zero point {q.zero_point})" if q else "")
            has = f"{np.dtype(dtype).name}" + (f" (scale {float(quant[0]):g}, zero point {int(quant[1])})" if quant else "")
            raise MobiledeployError(f"{entry.name}: the manifest says its {side} is {said}, the file's is {has}: "
                                    "re-export the artifact")
