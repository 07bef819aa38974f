"""The classify loop: capture -> preprocess -> inference -> draw -> outputs, each step timed."""
from __future__ import annotations

import json
import queue
import sys
import threading
import time
from dataclasses import dataclass

from mobiledeploy.artifact.labels import printable
from mobiledeploy.errors import MobiledeployError

_END = object()


@dataclass
class Outputs:
    json_lines: bool = False
    window: bool = False
    view: object = None       # web.LiveView
    recorder: object = None   # cv2.VideoWriter
    quiet: bool = False


class _Producer(threading.Thread):
    """Captures and preprocesses the next frame while the main thread infers and draws this one.

    OpenCV decoding, numpy and LiteRT's invoke release the GIL; a Pi has four cores.
    """

    def __init__(self, classifier, source, frames: int | None, pace_fps: float | None, start: float):
        super().__init__(daemon=True)
        self.classifier, self.source, self.frames, self.pace_fps, self.start_time = \
            classifier, source, frames, pace_fps, start
        self.ready: queue.Queue = queue.Queue(maxsize=2)
        self.stopping = threading.Event()
        self.errors: list = []

    def run(self):
        it, n = iter(self.source), 0
        try:
            while not self.stopping.is_set() and (self.frames is None or n < self.frames):
                if self.pace_fps and n:
                    time.sleep(max(0.0, self.start_time + n / self.pace_fps - time.perf_counter()))
                t0 = time.perf_counter()
                rgb = next(it, None)
                if rgb is None:
                    break
                where = self.source.where  # of the frame just yielded: the producer runs ahead of the main thread
                t1 = time.perf_counter()
                tensor = self.classifier.tensor(rgb)
                t2 = time.perf_counter()
                self.ready.put((rgb, tensor, (t1 - t0) * 1e3, (t2 - t1) * 1e3, where))
                n += 1
        except Exception as exc:  # handed to the main thread, which reports it
            self.errors.append(out_of_memory(exc, n, self.source.name) or exc)
        finally:
            self.ready.put(_END)

    def next(self):
        """The next (rgb, tensor, capture ms, preprocess ms, source), or None at the end (re-raising the producer's error)."""
        item = self.ready.get()
        if item is _END:
            if self.errors:
                raise self.errors[0]
            return None
        return item

    def finish(self):
        """Stop and wait, unblocking a producer waiting on a full queue."""
        self.stopping.set()
        while self.is_alive():
            try:
                self.ready.get_nowait()
            except queue.Empty:
                self.join(0.05)


def out_of_memory(exc: BaseException, frame: int, source: str) -> MobiledeployError | None:
    """A frame too large for the memory left is the user's to fix (a smaller source), not a bug to report.

    numpy raises MemoryError; OpenCV raises cv2.error with code -4 (StsNoMem, "Insufficient memory").
    """
    if not isinstance(exc, MemoryError) and not (type(exc).__module__.startswith("cv2")
                                                 and getattr(exc, "code", None) == -4):
        return None
    return MobiledeployError(f"out of memory on frame {frame} of {source}: close other programs, or use a source "
                             "with smaller frames (--width/--height for a camera)")


def _frame_record(index: int, preds, timings: dict, fps: float, model_name: str, source: str) -> dict:
    best = preds[0] if preds else None
    return {"frame": index, "source": source, "label": best.label if best else None,
            "index": best.index if best else None, "score": best.score if best else None,
            "inference_ms": timings["inference"], "capture_ms": timings["capture"],
            "preprocess_ms": timings["preprocess"], "top": [p.__dict__ for p in preds], "fps": fps,
            "model": model_name}


def _show(outputs: Outputs, frame, record: dict) -> bool:
    """Send an annotated frame to the recorder, the web view and the window; False when the window asks to quit."""
    if outputs.recorder is not None:
        outputs.recorder.write(frame)
    if outputs.view is not None:
        outputs.view.publish(frame, record)
    if outputs.window:
        import cv2

        cv2.imshow("mobiledeploy", frame)
        if cv2.waitKey(1) & 0xFF in (27, ord("q")):
            return False
    return True


def _say(outputs: Outputs, record: dict, count: int) -> None:
    if outputs.json_lines:
        print(json.dumps(record), flush=True)
    elif not outputs.quiet and count % 30 == 1:
        # printable: a label is data from labels.txt, and an ESC in it would be a terminal escape sequence
        label = f"{printable(record['label'].split(',')[0])} {record['score']:.2f}" if record["label"] else "-"
        print(f"frame {count - 1}: {label}  ({record['fps']:.1f} FPS, inference {record['inference_ms']:.1f} ms)",
              file=sys.stderr, flush=True)


def run(classifier, source, outputs: Outputs, frames: int | None = None, top_k: int = 5,
        threshold: float = 0.0, model_name: str = "", pace_fps: float | None = None) -> dict:
    """Classify frames until the source ends, `frames` were done, or Ctrl-C; returns the summary.

    `pace_fps` plays a recorded source at that rate (for people watching); cameras pace themselves.
    """
    from .overlay import annotate

    session = classifier.session
    count, start = 0, time.perf_counter()
    draw_needed = outputs.window or outputs.view or outputs.recorder
    totals = {"capture": 0.0, "preprocess": 0.0, "inference": 0.0, "draw": 0.0}
    last_draw = 0.0
    producer = _Producer(classifier, source, frames, pace_fps, start)
    producer.start()
    try:
        while (item := producer.next()) is not None:
            rgb, tensor, capture_ms, preprocess_ms, where = item
            t2 = time.perf_counter()
            scores = session.dequantize(session.invoke(tensor))[0]
            t3 = time.perf_counter()
            preds = [p for p in classifier.top(scores, top_k) if p.score >= threshold]
            timings = {"capture": capture_ms, "preprocess": preprocess_ms, "inference": (t3 - t2) * 1e3, "draw": 0.0}
            count += 1
            elapsed = time.perf_counter() - start
            record = _frame_record(count - 1, preds, timings, count / elapsed if elapsed > 0 else 0.0, model_name,
                                   where)
            if draw_needed:
                t4 = time.perf_counter()
                try:
                    frame = annotate(rgb, preds, record["fps"], {**timings, "draw": last_draw})  # this draw: unknown yet
                except Exception as exc:
                    error = out_of_memory(exc, count - 1, source.name)
                    if error is None:
                        raise
                    raise error from None
                timings["draw"] = last_draw = (time.perf_counter() - t4) * 1e3
                if not _show(outputs, frame, record):
                    break
            record["draw_ms"] = timings["draw"]
            for k in totals:
                totals[k] += timings[k]
            _say(outputs, record, count)
    except KeyboardInterrupt:
        pass
    finally:
        producer.finish()
    elapsed = time.perf_counter() - start
    summary = {"model": model_name, "frames": count, "fps": count / elapsed if elapsed > 0 else 0.0, "seconds": elapsed,
               **{f"mean_{k}_ms": (v / count if count else 0.0) for k, v in totals.items()}}
    if outputs.json_lines:
        print(json.dumps(summary), flush=True)
    return summary
