"""The MobileNet families this toolchain knows, each one description: its layer table and a few names.

Everything that differs between v1 and v2 is here (or in the two layer tables this points to): the
builder, the cost model, the ONNX writer, the importers, the sweep and the manifest read a Family and
never test the family's name. A third family is one more entry: a layer table and its names.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..choices import did_you_mean
from ..errors import MobiledeployError
from . import architecture as v1
from . import architecture_v2 as v2

DEFAULT = "mobilenet_v1"


@dataclass(frozen=True)
class Family:
    """One MobileNet family: how to list its layers and what its files and tables call things."""

    name: str                      # the manifest's model.architecture and --arch's value
    title: str                     # for people: "MobileNet v1"
    layers: Callable               # (alpha, resolution, outputs) -> [Layer]
    classifier: str                # the classifier layer's Keras name
    head: str                      # "conv": 1x1 convolution + reshape (v1); "dense": Dense (v2)
    width_layers: tuple[str, ...]  # the layers whose output width alpha sets (to tell alpha from a file)
    official_alphas: tuple[float, ...]
    official_resolutions: tuple[int, ...]
    paper: str
    official_file: Callable        # (alpha, resolution) -> the official Keras weight file's name
    keras_folder: str              # its folder under keras-applications/
    exact_alpha: Callable | None = None  # widths -> alpha when a closed form exists (v1: int(base * alpha))

    def widths(self, alpha: float) -> dict[str, int]:
        """Output channels of the width-setting layers at this alpha (resolution does not matter)."""
        return {layer.name: layer.cout for layer in self.layers(alpha, v1.MIN_RESOLUTION, None)
                if layer.name in self.width_layers}

    def alpha_of(self, widths: dict[str, int]) -> float | None:
        """The shortest decimal alpha that builds these channel counts, or None (no alpha does).

        v1's counts are int(base * alpha), v2's are rounded to multiples of 8, so a file bounds alpha to an
        interval; the shortest decimal in it is what a user typed (the official alphas are tried first)."""
        if self.exact_alpha is not None:
            return self.exact_alpha(widths)
        for alpha in self.official_alphas:
            if self.widths(alpha) == widths:
                return alpha
        # a cheap filter first: the widest width-setting layer rounds alpha x base by at most 10% (or 8)
        bases, half = self.widths(1.0), self.widths(0.5)
        # the widest layer alpha scales (v2's last convolution keeps 1280 for alpha <= 1: not that one)
        widest = max((n for n in widths if n in bases and bases[n] != half[n]), key=lambda n: bases[n], default=None)
        if widest is None:
            return None
        target, base = widths[widest], bases[widest]
        for digits in (1, 2, 3):
            step = 10 ** -digits
            for k in range(1, int(round(v1.MAX_ALPHA / step)) + 1):
                alpha = round(k * step, digits)
                if abs(alpha * base - target) <= max(8, 0.12 * target) and self.widths(alpha) == widths:
                    return alpha
        return None

    def layers_by_name(self) -> dict:
        """Layer name -> Layer (names do not depend on alpha or resolution)."""
        return {layer.name: layer for layer in self.layers(1.0, v1.MIN_RESOLUTION, 1)}

    def convolutions(self) -> int:
        """How many convolutions a file of this family holds (the classifier included)."""
        return len(self.layers(1.0, v1.MIN_RESOLUTION, 1))

    def adds(self) -> int:
        """How many residual additions it has."""
        return sum(1 for layer in self.layers(1.0, v1.MIN_RESOLUTION, None) if layer.add)

    def title_for(self, alpha: float, resolution: int) -> str:
        return f"{self.title} alpha {v1.alpha_text(alpha)} at {resolution}x{resolution}"

    def label(self, alpha: float, resolution: int) -> str:
        """a0.25-128 for the default family (as before families), v2-a1.0-224 for another: never shared."""
        text = f"a{v1.alpha_text(alpha)}-{resolution}"
        return text if self.name == DEFAULT else f"{self.name.removeprefix('mobilenet_')}-{text}"


v1_family = Family("mobilenet_v1", "MobileNet v1", v1.layers, "conv_preds", "conv",
                   tuple(v1.width_bases()), (0.25, 0.5, 0.75, 1.0), (128, 160, 192, 224),
                   "Howard et al. 2017, Table 1", v1.official_file, "mobilenet/", v1.alpha_of)
v2_family = Family("mobilenet_v2", "MobileNetV2", v2.layers, v2.CLASSIFIER, "dense", v2.width_layers(),
                   (0.35, 0.5, 0.75, 1.0, 1.3, 1.4), (96, 128, 160, 192, 224),
                   "Sandler et al. 2018, Table 2", v2.official_file, "mobilenet_v2/")
FAMILIES = {f.name: f for f in (v1_family, v2_family)}


def family(name) -> Family:
    """The family named `name` (`--arch`, a manifest's model.architecture); a clear error for anything else."""
    text = str(name).strip() if name is not None else ""
    if text in FAMILIES:
        return FAMILIES[text]
    hint = did_you_mean(text, FAMILIES)
    raise MobiledeployError(f"unknown architecture {text!r}{hint}: choose from {', '.join(FAMILIES)}")


def parse_archs(text: str) -> list[Family]:
    """Comma list of family names (`sweep --arch mobilenet_v1,mobilenet_v2`); duplicates dropped, order kept."""
    names = [part.strip() for part in str(text).split(",") if part.strip()]
    if not names:
        raise MobiledeployError(f"--arch is empty: give one or more of {', '.join(FAMILIES)}, comma separated")
    return list(dict.fromkeys(family(n) for n in names))


def of_layer_names(names) -> Family | None:
    """The family whose layer names a weights file uses, or None when it uses neither's."""
    names = set(names)
    best = max(FAMILIES.values(), key=lambda f: len(names & set(f.width_layers)))
    return best if names & set(best.width_layers) else None


def of_convolutions(count: int) -> Family | None:
    """The family with this many convolutions (TFLite files carry no layer names we can trust)."""
    return next((f for f in FAMILIES.values() if f.convolutions() == count), None)

