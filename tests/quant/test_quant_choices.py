"""Issue 13, the pure parts of the int8 choices: which layers fall back, how imported weights are gridded,
the noise measure and the bias offsets. No converter here (tests/test_quant.py runs the real one)."""
import itertools

import numpy as np
import pytest

from mobiledeploy.export.bias_correction import channel_offsets
from mobiledeploy.export.tflite_fallback import FLOOR, INPUT, OUTPUT, output_noise, plan
from mobiledeploy.export.tflite_ranges import channel_factors


def _value(layers, shares, chosen):
    chosen = set(chosen)
    total = sum(max(0.0, shares.get(a, 0.0)) for a, b in zip(layers, layers[1:]) if a in chosen and b in chosen)
    total += max(0.0, shares.get(INPUT, 0.0)) * (layers[0] in chosen)
    total += max(0.0, shares.get(OUTPUT, 0.0)) * (layers[-1] in chosen)
    return total


def test_plan_encloses_the_noisiest_tensors():
    layers = ["a", "b", "c", "d", "e"]
    # the tensor a->b carries most noise, but a float "a" alone or "b" alone removes none of it
    assert plan(layers, {"a": 0.6, "c": 0.3}, 2) == ["a", "b"]
    assert plan(layers, {"a": 0.6, "c": 0.3}, 4) == ["a", "b", "c", "d"]
    assert plan(layers, {"a": 0.1, INPUT: 0.5}, 1) == ["a"]
    assert plan(layers, {"d": 0.2, OUTPUT: 0.3}, 1) == ["e"]
    assert plan(layers, {"d": 0.2, OUTPUT: 0.3}, 2) == ["d", "e"]
    assert plan(layers, {}, 0) == []
    assert len(plan(layers, {"a": -1.0}, 3)) == 3  # exactly N, whatever the shares
    with pytest.raises(ValueError):
        plan(layers, {}, 6)


@pytest.mark.parametrize("seed", range(20))
def test_plan_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    layers = [f"l{i}" for i in range(8)]
    shares = {name: float(v) for name, v in zip(layers, rng.normal(0.1, 0.2, len(layers)))}
    shares[INPUT], shares[OUTPUT] = float(rng.uniform(-0.1, 0.4)), float(rng.uniform(-0.1, 0.4))
    for count in range(len(layers) + 1):
        chosen = plan(layers, shares, count)
        assert len(chosen) == count and chosen == sorted(chosen, key=layers.index)
        best = max(_value(layers, shares, c) for c in itertools.combinations(layers, count))
        assert _value(layers, shares, chosen) == pytest.approx(best)


def test_output_noise_is_logit_like():
    rng = np.random.default_rng(0)
    ref = rng.dirichlet(np.ones(20), size=6)
    assert output_noise(ref, ref) == 0.0
    # a softmax is blind to a common factor on the top classes' probabilities: so is the measure
    assert output_noise(ref * 0.5, ref) == pytest.approx(0.0, abs=1e-12)
    swapped = ref.copy()
    top = ref.argmax(1)
    second = np.argsort(-ref, 1)[:, 1]
    rows = np.arange(len(ref))
    swapped[rows, top], swapped[rows, second] = ref[rows, second], ref[rows, top]
    assert output_noise(swapped, ref) > 0.01
    # an int8 output that rounds a probability to 0 counts as half a step, not as minus infinity
    zeroed = ref.copy()
    zeroed[rows, second] = 0.0
    assert np.isfinite(output_noise(zeroed, ref)) and FLOOR == 0.5 / 256


def test_channel_factors_keep_trained_integers_where_they_fit():
    narrow = np.array([[-127, 5, 127, 0]])
    assert channel_factors(narrow).tolist() == [1.0]
    # a channel of zeros (Google's MobileNetV2 QAT file has some: importing it ended "argmin of an empty
    # sequence") keeps its step
    assert channel_factors(np.array([[0, 0, 0], [3, -2, 1]])).tolist() == [1.0, 1.0]
    # one outlier among many weights: clipping it by 3 steps loses less than re-rounding all of them
    rng = np.random.default_rng(1)
    one_outlier = np.concatenate([rng.integers(-100, 101, 200), [130]])[None]
    assert channel_factors(one_outlier).tolist() == [1.0]
    # a far outlier (203, as in Google's conv_dw_1): the step doubles or becomes max/127, never clips 76 steps
    far = np.array([[203, -3, 5, 8, 1, -7, 2, 4, -1]])
    f = channel_factors(far)[0]
    assert f > 1
    q = np.clip(np.round(far / f), -127, 127)
    assert np.abs(far - f * q).max() <= f / 2 + 1e-9  # nothing clipped
    # whole multiples keep the even integers exact
    even = np.array([[254, -200, 100, 2, -4]])
    assert channel_factors(even).tolist() == [2.0]


def test_channel_offsets_are_per_channel_means():
    reference = np.zeros((2, 3, 3, 4))
    quantized = reference + np.array([0.1, -0.2, 0.0, 0.05])
    quantized[0, 0, 0, 0] += 0.9  # one position of 18 moves channel 0's mean by 0.05
    assert channel_offsets(quantized, reference) == pytest.approx([0.15, -0.2, 0.0, 0.05])
