"""The MobileNet families this toolchain knows, each one description: its layer table and a few names.

Everything that differs between v1 and v2 is here (or in the two layer tables this points to): the
builder, the cost model, the ONNX writer, the importers, the sweep and the manifest read a Family and
never test the family's name. A third family is one more entry: a layer table and its names.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Callable

from ..choices import did_you_mean
from ..errors import MobiledeployError
from . import architecture as v1
from . import architecture_shufflenet as shuffle
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
    builder: str = ""              # the model module's builder of a family that is not a chain of layers
    #                                (ShuffleNet: "shufflenet", whose units have branches, pools, shuffles)
    version: int = 0               # ShuffleNet's version (1, 2); 0 for a MobileNet
    groups: int = 1                # ShuffleNet V1's g
    weights_hint: str = ""         # where weights come from when no official file exists
    paper_widest: float = 1.0      # the widest alpha the paper published (wider builds, with a warning)
    #: the export flags that give this family real weights (what pick's note on a random-weight artifact says)
    real_weights: str = "--weights imagenet (or a Google .tflite)"
    markers: tuple[str, str] = ("o", "s")  # the sweep plot's matplotlib markers for fp32 and int8 variants

    def check_alpha(self, alpha) -> float:
        """Validate alpha for this family; warn when it is wider than any model the paper published."""
        value = v1.check_alpha(alpha)
        if value > self.paper_widest:
            _warn_wider(value, self.paper_widest, self.paper)
        return value

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
        return sum(1 for layer in self.layers(1.0, v1.MIN_RESOLUTION, 1) if layer.kind in ("conv", "dw", "pw", "fc"))

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
                   "Sandler et al. 2018, Table 2", v2.official_file, "mobilenet_v2/", paper_widest=1.4,
                   markers=("^", "D"))


def _shufflenet_v1(groups: int) -> Family:
    name = "shufflenet_v1" if groups == shuffle.V1_DEFAULT_GROUPS else f"shufflenet_v1_g{groups}"
    return Family(name, f"ShuffleNet V1 (g={groups})", partial(shuffle.layers, 1, groups=groups), "fc", "dense",
                  shuffle.width_layers(1), (), (), "Zhang et al. 2017, Table 1", _no_official, "",
                  partial(shuffle.alpha_of, 1, groups), builder="shufflenet", version=1, groups=groups,
                  weights_hint="--weights none (random), or a Keras .h5 of this mobiledeploy's ShuffleNet",
                  # Table 5 publishes 1.5x and 2x for g=3 only; Tables 1-2 stop at 1x for the other g
                  paper_widest=2.0 if groups == shuffle.V1_DEFAULT_GROUPS else 1.0,
                  real_weights="--weights FILE.h5 (a Keras .h5 of this mobiledeploy's ShuffleNet V1: no official "
                               "weight file exists)", markers=("v", "P"))


@lru_cache(maxsize=None)
def _warn_wider(alpha: float, widest: float, paper: str) -> None:
    """Once per process: the builder, the cost table and the exporter all check the same alpha."""
    warnings.warn(f"alpha {alpha} > {widest:g} widens the network beyond the paper's models ({paper})",
                  stacklevel=4)


def _no_official(alpha, resolution):
    raise MobiledeployError("ShuffleNet has no official Keras weight files")


shufflenet_v1_family = _shufflenet_v1(shuffle.V1_DEFAULT_GROUPS)
shufflenet_v2_family = Family(
    "shufflenet_v2", "ShuffleNet V2", partial(shuffle.layers, 2), "fc", "dense", shuffle.width_layers(2), (), (),
    "Ma et al. 2018, Table 5", _no_official, "", partial(shuffle.alpha_of, 2, 1), builder="shufflenet", version=2,
    paper_widest=2.0,
    real_weights="--weights FILE.npz (torchvision's shufflenet_v2_x*_* state dict saved by numpy), FILE.onnx (its "
                 "ONNX export, or the ONNX model zoo's shufflenet-v2-10.onnx; see docs/families.md) or a Keras .h5",
    markers=("*", "X"),
    weights_hint="--weights none (random), torchvision's state dict saved as .npz (numpy.savez(path, "
                 "**{k: v.numpy() for k, v in model.state_dict().items()})), its ONNX export (.onnx), or a Keras .h5")
FAMILIES = {f.name: f for f in (v1_family, v2_family, shufflenet_v1_family, shufflenet_v2_family,
                                *(_shufflenet_v1(g) for g in shuffle.V1_WIDTHS if g != shuffle.V1_DEFAULT_GROUPS))}


def family(name) -> Family:
    """The family named `name` (`--arch`, a manifest's model.architecture); a clear error for anything else."""
    text = str(name).strip() if name is not None else ""
    if text in FAMILIES:
        return FAMILIES[text]
    groups = re.fullmatch(r"shufflenet_v1_g(\d{1,6})", text)
    if groups:  # g=3 is plain shufflenet_v1; another g is a number Table 1 has no widths for
        g = int(groups.group(1))
        return FAMILIES["shufflenet_v1"] if g == shuffle.V1_DEFAULT_GROUPS else _shufflenet_v1(shuffle.check_groups(g))
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

