"""Command line of the Pi classifier."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mobiledeploy.errors import MobiledeployError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="classify.py",
        description="Classify live camera frames with a mobiledeploy artifact (MobileNet v1 at your alpha/rho).",
        epilog="Examples:\n  classify.py --artifact models/mobilenet_v1_0.5_128 --web\n"
               "  classify.py --alpha 0.5 --res 128 --precision int8 --source /dev/video0 --json-lines --frames 100\n"
               "  classify.py --artifact models/mobilenet_v1_0.5_128 --source clip.mp4 --record out.avi",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    m = p.add_argument_group("model")
    m.add_argument("--artifact", help="artifact folder (has manifest.json)")
    m.add_argument("--file", help="model file in the artifact (default: the manifest's default, int8 TFLite first)")
    m.add_argument("--models", default="models", help="folder of artifacts for --alpha/--res (default: models)")
    m.add_argument("--alpha", type=float, help="pick the artifact whose manifest has this width multiplier ...")
    m.add_argument("--res", type=int, help="... and this input resolution")
    m.add_argument("--precision", help="TFLite file precision (fp32, fp16, dynamic, int8; default: the manifest's "
                                       "default file)")
    m.add_argument("--threads", type=int, default=4, help="inference threads (default 4: a Pi 4/5 has 4 cores)")
    s = p.add_argument_group("input")
    s.add_argument("--source", default="camera",
                   help="camera (picamera2, else the first V4L2 camera), picamera2, /dev/videoN or index, "
                        "a video file, a folder of images, or an http:// MJPEG URL (default camera)")
    s.add_argument("--width", type=int, default=640)
    s.add_argument("--height", type=int, default=480)
    s.add_argument("--loop", action="store_true", help="repeat a video file or folder")
    s.add_argument("--frames", type=int, help="stop after N frames")
    s.add_argument("--no-pace", action="store_true",
                   help="with --web/--window, run a video file or folder at full speed instead of its own rate")
    o = p.add_argument_group("output")
    o.add_argument("--top-k", type=int, default=3)
    o.add_argument("--threshold", type=float, default=0.0, help="hide classes scoring below this")
    o.add_argument("--json-lines", action="store_true", help="one JSON object per frame on stdout, then a summary")
    o.add_argument("--web", action="store_true", help="serve the annotated stream and predictions on --port")
    o.add_argument("--port", type=int, default=8080)
    o.add_argument("--window", action="store_true", help="show a desktop window (needs a display)")
    o.add_argument("--record", help="save the annotated video (.avi, MJPG)")
    o.add_argument("--quiet", action="store_true")
    return p


def pick_artifact(args):
    """(artifact, file name or None): --artifact, or the artifact whose manifest says --alpha and --res."""
    from mobiledeploy.artifact.bundle import Artifact, find

    if args.artifact:
        artifact = Artifact.load(args.artifact)
    elif args.alpha is None or args.res is None:
        raise MobiledeployError("name the model: --artifact DIR, or --alpha A --res R [--precision P]")
    else:
        artifact = find(Path(args.models), args.alpha, args.res)
    if args.file:
        return artifact, args.file
    if args.precision:
        return artifact, artifact.manifest.file("tflite", args.precision).name
    return artifact, None


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    view = source = recorder = None
    try:
        from mobiledeploy.runtime.classifier import Classifier

        from .loop import Outputs, run
        from .sources import open_source

        artifact, file = pick_artifact(args)
        classifier = Classifier(artifact, file, args.threads)
        name = f"{classifier.artifact.manifest.name} / {classifier.entry.name}"
        if args.web:
            from .web import LiveView

            view = LiveView(args.port)
            if not args.quiet:
                print(f"web view on http://{os.uname().nodename}:{view.port}/", file=sys.stderr)
        source = open_source(args.source, args.loop, args.width, args.height)
        if args.record:
            recorder = _LazyRecorder(args.record)
        if args.window and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            raise MobiledeployError("--window needs a display; headless, use --web")
        # a recorded source shown to a person plays at its own rate (15 FPS for a folder); otherwise full speed
        pace = None
        if (args.web or args.window) and not args.no_pace and not getattr(source, "live", False):
            pace = getattr(source, "fps", None) or 15.0
        summary = run(classifier, source, Outputs(args.json_lines, args.window, view, recorder, args.quiet),
                      args.frames, args.top_k, args.threshold, name, pace)
        if not args.quiet and not args.json_lines:
            print(f"{summary['frames']} frames, {summary['fps']:.1f} FPS", file=sys.stderr)
        return 0
    except MobiledeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader of --json-lines went away (| head): not an error
        sys.stderr.close()
        return 0
    finally:
        for thing in (source, view, recorder):
            if thing is not None:
                thing.close()


class _LazyRecorder:
    """A VideoWriter opened at the first frame, when its size is known."""

    def __init__(self, path: str):
        self.path, self.writer = path, None

    def write(self, frame):
        import cv2

        if self.writer is None:
            h, w = frame.shape[:2]
            self.size = (w, h)
            self.writer = cv2.VideoWriter(self.path, cv2.VideoWriter_fourcc(*"MJPG"), 15.0, self.size)
            if not self.writer.isOpened():
                raise MobiledeployError(f"cannot write video {self.path}")
        if (frame.shape[1], frame.shape[0]) != self.size:  # OpenCV silently drops frames of another size
            frame = cv2.resize(frame, self.size)
        self.writer.write(frame)

    def close(self):
        if self.writer is not None:
            self.writer.release()
