"""Draw predictions, FPS and the latency split onto a frame (OpenCV, on a BGR copy)."""
from __future__ import annotations

import numpy as np


def annotate(rgb: np.ndarray, predictions, fps: float, timings: dict) -> np.ndarray:
    """A BGR frame with top-k labels, scores, FPS and capture/preprocess/inference/draw times on a dark panel."""
    import cv2

    frame = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    scale = max(0.45, frame.shape[0] / 800)
    lines = [f"{p.score:5.1%}  {p.label.split(',')[0][:32]}" for p in predictions]
    lines.append(f"{fps:.1f} FPS")
    lines.append("ms: capture {capture:.1f}  pre {preprocess:.1f}  infer {inference:.1f}  draw {draw:.1f}".format(**timings))
    font, thick = cv2.FONT_HERSHEY_SIMPLEX, 1
    step = int(26 * scale / 0.6)
    width = max(cv2.getTextSize(t, font, scale, thick)[0][0] for t in lines) + 16
    height = step * len(lines) + 10
    panel = frame[:height, :width]
    panel[:] = (panel * 0.35).astype(np.uint8)  # darken behind the text so it reads on any picture
    for i, text in enumerate(lines):
        cv2.putText(frame, text, (8, step * (i + 1)), font, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return frame
