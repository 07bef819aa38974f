"""The classify loop: capture -> preprocess -> inference -> draw -> outputs, each step timed."""
from __future__ import annotations

import json
import queue
import sys
import threading
import time
from dataclasses import dataclass

_END = object()


@dataclass
class Outputs:
    json_lines: bool = False
    window: bool = False
    view: object = None       # web.LiveView
    recorder: object = None   # cv2.VideoWriter
    quiet: bool = False


def run(classifier, source, outputs: Outputs, frames: int | None = None, top_k: int = 3,
        threshold: float = 0.0, model_name: str = "", pace_fps: float | None = None) -> dict:
    """Classify frames until the source ends, `frames` were done, or Ctrl-C; returns the summary.

    `pace_fps` plays a recorded source at that rate (for people watching); cameras pace themselves.
    """
    from .overlay import annotate

    session = classifier.session
    count, start, fps = 0, time.perf_counter(), 0.0
    draw_needed = outputs.window or outputs.view or outputs.recorder
    totals = {"capture": 0.0, "preprocess": 0.0, "inference": 0.0, "draw": 0.0}
    last_draw = 0.0
    # two stages: a thread captures and preprocesses the next frame while this one infers and draws
    # (OpenCV decoding, numpy and LiteRT's invoke release the GIL; a Pi has four cores)
    ready: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()
    errors: list = []

    def produce():
        it, n = iter(source), 0
        try:
            while not stop.is_set() and (frames is None or n < frames):
                if pace_fps and n:
                    time.sleep(max(0.0, start + n / pace_fps - time.perf_counter()))
                t0 = time.perf_counter()
                rgb = next(it, None)
                if rgb is None:
                    break
                t1 = time.perf_counter()
                tensor = classifier.tensor(rgb)
                t2 = time.perf_counter()
                ready.put((rgb, tensor, (t1 - t0) * 1e3, (t2 - t1) * 1e3))
                n += 1
        except Exception as exc:  # handed to the main thread, which reports it
            errors.append(exc)
        finally:
            ready.put(_END)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    try:
        while True:
            item = ready.get()
            if item is _END:
                if errors:
                    raise errors[0]
                break
            rgb, tensor, capture_ms, preprocess_ms = item
            t2 = time.perf_counter()
            scores = session.dequantize(session.invoke(tensor))[0]
            t3 = time.perf_counter()
            preds = [p for p in classifier.top(scores, top_k) if p.score >= threshold]
            timings = {"capture": capture_ms, "preprocess": preprocess_ms, "inference": (t3 - t2) * 1e3,
                       "draw": 0.0}
            count += 1
            elapsed = time.perf_counter() - start
            fps = count / elapsed if elapsed > 0 else 0.0
            best = preds[0] if preds else None
            record = {"frame": count - 1, "label": best.label if best else None, "index": best.index if best else None,
                      "score": best.score if best else None, "inference_ms": timings["inference"],
                      "capture_ms": timings["capture"], "preprocess_ms": timings["preprocess"],
                      "top": [p.__dict__ for p in preds], "fps": fps, "model": model_name}
            if draw_needed:
                t4 = time.perf_counter()
                frame = annotate(rgb, preds, fps, {**timings, "draw": last_draw})  # this frame's draw is unknown yet
                timings["draw"] = last_draw = (time.perf_counter() - t4) * 1e3
                if outputs.recorder is not None:
                    outputs.recorder.write(frame)
                if outputs.view is not None:
                    outputs.view.publish(frame, record)
                if outputs.window:
                    import cv2

                    cv2.imshow("mobiledeploy", frame)
                    if cv2.waitKey(1) & 0xFF in (27, ord("q")):
                        break
            record["draw_ms"] = timings["draw"]
            for k in totals:
                totals[k] += timings[k]
            if outputs.json_lines:
                print(json.dumps(record), flush=True)
            elif not outputs.quiet and count % 30 == 1:
                label = f"{best.label.split(',')[0]} {best.score:.2f}" if best else "-"
                print(f"frame {count - 1}: {label}  ({fps:.1f} FPS, inference {timings['inference']:.1f} ms)",
                      file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        while producer.is_alive():  # unblock a producer waiting on a full queue
            try:
                ready.get_nowait()
            except queue.Empty:
                producer.join(0.05)
    elapsed = time.perf_counter() - start
    summary = {"model": model_name, "frames": count, "fps": count / elapsed if elapsed > 0 else 0.0, "seconds": elapsed,
               **{f"mean_{k}_ms": (v / count if count else 0.0) for k, v in totals.items()}}
    if outputs.json_lines:
        print(json.dumps(summary), flush=True)
    return summary
