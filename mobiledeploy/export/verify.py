"""Compare a file's outputs with the float Keras model's: pure functions on score arrays."""
from __future__ import annotations

import numpy as np


def agreement(reference: np.ndarray, scores: np.ndarray) -> dict:
    """Top-1 agreement, strict (argmax equal) and tie-aware (the two files' sets of tied best classes meet).

    Int8 softmax outputs step by 1/256 and often tie at the top; argmax then takes the lowest index, so
    strict agreement counts a tie as a disagreement even when the float top-1 is among the tied classes.
    """
    reference = np.asarray(reference, np.float64)
    scores = np.asarray(scores, np.float64)
    ref_best = reference == reference.max(1, keepdims=True)
    best = scores == scores.max(1, keepdims=True)
    return {"strict": float((scores.argmax(1) == reference.argmax(1)).mean()),
            "tie_aware": float((ref_best & best).any(1).mean())}


def compare(reference: np.ndarray, scores: np.ndarray) -> dict:
    """Top-1 agreement, top-5 containment of the reference top-1, cosine and max abs error (N x C arrays)."""
    reference = np.asarray(reference, np.float64)
    scores = np.asarray(scores, np.float64)
    ref_top1 = reference.argmax(1)
    top5 = np.argsort(-scores, axis=1)[:, :5]
    dots = (reference * scores).sum(1)
    norms = np.linalg.norm(reference, axis=1) * np.linalg.norm(scores, axis=1)
    cosine = np.where(norms > 0, dots / np.where(norms > 0, norms, 1), 0.0)
    return {
        "n": int(len(reference)),
        "top1_agreement": float((scores.argmax(1) == ref_top1).mean()),
        "top1_agreement_tie_aware": agreement(reference, scores)["tie_aware"],
        "top5_contains_top1": float((top5 == ref_top1[:, None]).any(1).mean()),
        "cosine_mean": float(cosine.mean()),
        "cosine_min": float(cosine.min()),
        "max_abs_error": float(np.abs(reference - scores).max()),
    }


def run_file(session, inputs: np.ndarray) -> np.ndarray:
    """Scores of one model file for each float input (runs one image at a time: batch 1)."""
    return np.concatenate([session.run(x[None].astype(np.float64)) for x in inputs])
