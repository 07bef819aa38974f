"""Command line of the Pi classifier."""
from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from mobiledeploy import outcome, signals
from mobiledeploy.errors import MobiledeployError
from mobiledeploy.model.families import FAMILIES, family
from mobiledeploy.runtime.classifier import TOP_K
from mobiledeploy.runtime.session import MAX_THREADS

from .record import Recorder


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad option is one `error:` line (the CLI's policy), not usage plus a message."""

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _ranged(kind, low=None, high=None, what=""):
    """An argparse type: `kind` within [low, high], with a message naming the allowed range."""

    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'number' if kind is float else 'whole number'}")
        if value != value or (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text} is out of range: {what}")
        return value

    convert.__name__ = kind.__name__
    return convert


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="classify.py",
        description="Classify live camera frames with a mobiledeploy artifact (any family it exports: MobileNet "
                    "v1/V2, ShuffleNet V1/V2, at your alpha/rho; the family is read from its manifest).",
        epilog="Examples:\n  classify.py --artifact models/mobilenet_v1_0.5_128 --web\n"
               "  classify.py --alpha 0.5 --res 128 --precision int8 --source /dev/video0 --json-lines --frames 100\n"
               "  classify.py --artifact models/mobilenet_v1_0.5_128 --source clip.mp4 --record out.avi",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    positive = _ranged(int, 1, None, "give 1 or more")
    m = p.add_argument_group("model")
    m.add_argument("--artifact", help="artifact folder (has manifest.json)")
    m.add_argument("--file", help="model file in the artifact (default: the manifest's default, int8 TFLite first)")
    m.add_argument("--models", default="models", help="folder of artifacts for --alpha/--res (default: models)")
    m.add_argument("--alpha", help="pick the artifact whose manifest has this width multiplier ...")
    m.add_argument("--res", help="... and this input resolution")
    m.add_argument("--arch", choices=sorted(FAMILIES),
                   help="... and this family (needed when --models holds two families at that alpha/res)")
    m.add_argument("--precision", metavar="PRECISION",
                   help="TFLite file precision, as the artifact's manifest lists them (fp32, fp16, dynamic, int8; "
                        "default: the manifest's default file, int8 first)")
    m.add_argument("--threads", type=_ranged(int, 1, MAX_THREADS, f"1 to {MAX_THREADS} threads"), default=4,
                   help="inference threads (default 4: a Pi 4/5 has 4 cores)")
    s = p.add_argument_group("input")
    s.add_argument("--source", default="camera",
                   help="camera (picamera2, else the first V4L2 camera), picamera2, /dev/videoN or index, "
                        "a video file, a folder of images, or an http:// MJPEG URL (default camera)")
    s.add_argument("--width", type=_ranged(int, 1, 16384, "1 to 16384 pixels"), default=640)
    s.add_argument("--height", type=_ranged(int, 1, 16384, "1 to 16384 pixels"), default=480)
    s.add_argument("--loop", action="store_true", help="repeat a video file or folder")
    s.add_argument("--frames", type=positive, help="stop after N frames")
    s.add_argument("--source-timeout", type=_ranged(float, 0.1, 3600, "0.1 to 3600 seconds"), default=10.0,
                   metavar="SECONDS", help="an MJPEG stream that delivers no frame for this long is an error "
                                           "(default 10)")
    s.add_argument("--no-pace", action="store_true",
                   help="with --web/--window, run a video file or folder at full speed instead of its own rate")
    o = p.add_argument_group("output")
    o.add_argument("--top-k", type=_ranged(int, 1, 100, "1 to 100 classes"), default=TOP_K,
                   help=f"classes shown per frame (default {TOP_K})")
    o.add_argument("--threshold", type=_ranged(float, 0.0, 1.0, "a score from 0 to 1"), default=0.0,
                   help="hide classes scoring below this (0 to 1)")
    o.add_argument("--json-lines", action="store_true", help="one JSON object per frame on stdout, then a summary")
    o.add_argument("--web", action="store_true", help="serve the annotated stream and predictions on --port")
    o.add_argument("--host", default="127.0.0.1",
                   help="address the web view listens on, IPv4 or IPv6 (default 127.0.0.1: this machine only; "
                        "0.0.0.0 or :: shares it with the network, without authentication)")
    o.add_argument("--port", type=_ranged(int, 1, 65535, "a TCP port from 1 to 65535"), default=8080)
    o.add_argument("--window", action="store_true", help="show a desktop window (needs a display)")
    o.add_argument("--record", help="save the annotated video (.avi, MJPG); an existing file is refused")
    o.add_argument("--force", action="store_true", help="let --record replace an existing file")
    o.add_argument("--quiet", action="store_true")
    o.add_argument("--verbose", action="store_true", help="full tracebacks for unexpected errors")
    return p


def pick_artifact(args):
    """(artifact, file name or None): --artifact, or the artifact whose manifest says --alpha and --res."""
    from mobiledeploy.artifact.bundle import Artifact, find

    if args.artifact:
        artifact = Artifact.load(args.artifact)
    elif args.alpha is None or args.res is None:
        raise MobiledeployError("name the model: --artifact DIR, or --alpha A --res R [--precision P]")
    else:
        artifact = find(Path(args.models), args.alpha, args.res, args.arch)
    if args.file:
        return artifact, args.file
    if args.precision:
        return artifact, artifact.manifest.file("tflite", args.precision).name
    return artifact, None


def main(argv=None) -> int:
    """Run the classifier; returns the exit code (mobiledeploy.outcome: 0, 2 user error, 1 bug, 128+N signal N)."""
    args = parser().parse_args(argv)
    if not args.verbose:
        _one_line_warnings()
        # OpenCV's own per-frame warnings ("Failed to write frame") would drown the one line
        os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg's own lines ("[mjpeg @ 0x...] ...") too
    # a second guard behind the header checks of mdpi.imagesize: OpenCV's own decoders refuse above the
    # project's limit too (its default, 2^30 pixels, lets a 20000x20000 JPEG take 2.4 GB); read at first use
    from mobiledeploy.runtime.images import MAX_PIXELS

    os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_PIXELS))
    signals.install()
    opened: list = []  # source, web view, recorder: closed in reverse order

    def body() -> int:
        try:
            try:
                code = _classify(args, opened)
            except KeyboardInterrupt:
                code = outcome.signal_code(signal.SIGINT)
            except signals.Terminated as exc:  # systemctl stop: keep what was recorded, report the signal
                code = outcome.signal_code(exc.signum)
            for thing in opened:
                if isinstance(thing, Recorder):
                    thing.finish()  # checks the file and renames it into place; raises on a full disk
            return code
        finally:
            for thing in reversed(opened):
                try:
                    thing.close()
                except Exception:  # noqa: BLE001 - closing must not replace the real error
                    pass

    return outcome.run(body, lambda: args.verbose, _closed_pipe)


def _closed_pipe(exc: BaseException):
    """The reader of --json-lines went away (| head): not an error."""
    if isinstance(exc, BrokenPipeError):
        try:
            sys.stderr.close()
        except OSError:
            pass
        return outcome.Outcome(None, outcome.OK)
    return None


def _classify(args, opened: list) -> int:
    from mobiledeploy.runtime.classifier import Classifier

    from .loop import Outputs, run
    from .sources import open_source

    artifact, file = pick_artifact(args)
    recorder = Recorder(args.record, args.force) if args.record else None  # checked before the model loads
    classifier = Classifier(artifact, file, args.threads)
    model = classifier.artifact.manifest.model
    name = f"{classifier.artifact.manifest.name} ({family(model.architecture).title}) / {classifier.entry.name}"
    view = None
    if args.web:
        from .web import LiveView, is_loopback, url

        view = LiveView(args.port, args.host)
        opened.append(view)
        if not is_loopback(args.host):
            print(f"warning: the web view on {url(args.host, view.port)} has no authentication: anyone who can "
                  "reach this machine sees the camera (use the default --host 127.0.0.1 and an SSH tunnel to keep "
                  "it private)", file=sys.stderr)
        if not args.quiet:
            shown = os.uname().nodename if args.host in ("0.0.0.0", "::") else args.host
            print(f"web view on {url(shown, view.port)}", file=sys.stderr)
    source = open_source(args.source, args.loop, args.width, args.height, args.source_timeout)
    opened.append(source)
    if recorder is not None:
        opened.append(recorder)
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


def _one_line_warnings() -> None:
    """Warnings (Pillow's large-image warning, ...) and background-thread deaths as one `warning:` line each."""
    import threading
    import warnings

    warnings.showwarning = lambda message, *a, **k: print(f"warning: {message}", file=sys.stderr)
    # a background thread (camera library, web server) that dies must not print a traceback either
    threading.excepthook = lambda hook: print(
        f"warning: {hook.exc_type.__name__} in thread {getattr(hook.thread, 'name', '?')}: {hook.exc_value}",
        file=sys.stderr)
