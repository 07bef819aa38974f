"""The docs run as written (issue 30): every `mobiledeploy ...` command of README.md, docs/*.md,
raspberrypi/README.md and android_demo/README.md is executed here, against fresh artifacts, and where a page
shows the output right after a `$ mobiledeploy ...` line, the real output is checked for what the page shows:
the same table columns, the same kinds of rows, the same messages in the same words (numbers, labels and paths
aside), and the same exit code. A page that lies fails here.

The commands run in one folder laid out as the pages assume: `models/` holds the artifacts the pages' own
export commands make, `../shared/data` is the shared test data (the commands needing it skip with the reason
when it is absent), `photo.jpg`, `labelled/`, `images/`, `photos/`, `weights/`, `~/mobilenets` and the weights
cache hold what the pages name. Devices are the suite's stand-ins: `rpi4` and `board` a real OpenSSH server on
loopback (tests/sshd.py), `pixel` tests/adbd.py's phone behind the real adb client.

What differs from the page, each with its reason (WORLD_SETTINGS, NARROWED, PARSED_ONLY):
- ./mobiledeploy.toml makes every measurement short (runs, time cap) and the default sweep grid 2 cells: the
  numbers differ, the commands and the output's shape do not;
- grids wider than 2 cells are narrowed on the command line (every export costs ~10 s here);
- commands with placeholders (a Pi's host name, a phone's serial, /path/to/...) or a 1.0-224 V2 import are
  only parsed (tests/test_docs_commands.py), listed below with why.
"""
from __future__ import annotations

import http.server
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import SHARED
from docs_pages import ROOT, Shown, all_shown

pytestmark = pytest.mark.slow

#: ./mobiledeploy.toml of the folder the commands run in: short measurements, a 2-cell default grid.
WORLD_SETTINGS = """\
[sweep]
alphas = "0.25,0.5"
res = "128"
runs = 20
warmup = 2
max-seconds = 0.6

[bench]
runs = 20
warmup = 2
max-seconds = 0.6
"""

#: (pattern in the command, replacement, why): the command line's grid or a page's placeholder made concrete.
NARROWED = [
    (r"--alphas 0\.25,0\.5,0\.75 --res 128,160,192", "--alphas 0.25,0.5 --res 128",
     "the 9-cell grid is 9 exports (~90 s here); the world's 2 cells show the same table"),
    (r"--arch mobilenet_v1,mobilenet_v2 --alphas 0\.25,0\.5,1\.0 --res 128,224",
     "--arch mobilenet_v1,mobilenet_v2 --alphas 0.5 --res 128",
     "12 cells with V2 1.0-224 (~3 min of exports); one cell of each family shows one front across both"),
    (r"--alphas 0\.25,0\.5 --res 128,160 ", "--alphas 0.25,0.5 --res 128 ", "4 cells; the world's 2 show the same table"),
    (r"--threads 1,2,4 ", "--threads 1,2 ", "4 threads on the 2-core loopback board measure contention only"),
    (r"--out models$", "--out sweep-models", "models/ holds the artifacts the other commands use"),
    (r"/tmp/m2/", "models/", "the page's own temporary folder"),
    (r"root@127\.0\.0\.1:2222", "root@127.0.0.1:{port}", "the loopback OpenSSH server's port"),
    (r"…/client_ed25519", "{key}", "the loopback server's client key"),
    (r"…/known_hosts", "{known_hosts}", "the loopback server's host key"),
    (r"--python …/python", "--python {python}", "this test's Python"),
]

#: (pattern, why) of the commands only parsed (tests/test_docs_commands.py checks their options).
PARSED_ONLY = [
    (r"devices add \S+ --ssh pi@", "a Pi's host name: the world adds rpi4 the same way, on a loopback OpenSSH "
                                   "server"),
    (r"devices add pixel --adb 1A2B3C4D", "a phone's serial: the world adds pixel on tests/adbd.py's phone"),
    (r"/path/to/", "placeholder paths"),
    (r"--weights mobilenet_v1_0\.5_128_quant\.tflite", "Google's 0.5-128 file is not in ../shared/data"),
    (r"export --alpha 0\.25 --res 128 --int8 --weights mobilenet_v1_0\.25_128_quant\.tflite",
     "the same artifact as docs/quantization.md's export, which models/ already holds (an export never replaces "
     "one without --force)"),
    (r"export --arch mobilenet_v2 --alpha 1\.0 --res 224",
     "V2 1.0-224 import, calibration on 240 photos and ONNX (~60 s): tests/model/test_v2_reference.py runs it"),
    (r"eval models/mobilenet_v2_1\.0_224", "needs the V2 1.0-224 export above"),
    (r"--weights-dir W ", "W stands for a folder the page describes"),
    (r"mobiledeploy (lab scheduler|lab worker|serve)\b", "a server that runs until it is stopped: tests/lab/ and "
                                                        "tests/report/ start it, use it and stop it"),
    (r"tls://labhost", "a lab host's name: tests/lab/ runs the lab on loopback"),
    (r"--device pixel7", "pixel7 is a phone of the lab above"),
]

#: Commands whose inputs come from ../shared/data (the folder builds them from it).
NEEDS_SHARED = re.compile(r"\.\./shared/data|labelled|wnids\.txt|photos/|imagenet-val/|weights/|~/mobilenets|"
                          r"--weights-dir cache|weights add")

#: The pages' setup: these run first, in this order (they make models/ as the pages assume).
FIRST = ["mobiledeploy export --alpha 0.5 --res 128 --int8",
         "mobiledeploy export --alpha 0.25 --res 128 --int8 --weights "
         "../shared/data/reference/mobilenet_v1_0.25_128_quant.tflite --calib ../shared/data/imagenet-sample"]

CASES = all_shown()
#: (page:line pattern, why): shown outputs that the pages' commands, run one after another in one folder, cannot
#: reproduce because of a known fault of the tool (reported; the page shows what one run in a fresh folder prints).
KNOWN = [
    (r"docs/sweep\.md:10\d$", "which of the 0.25-128 files fits 1 ms depends on this machine's noise at the time "
                             "(the page's run had the fp32 file's p90 over budget) and the pages' other sweeps leave "
                             "more copies of that cell in the store"),
]
TIMEOUT = 300   # seconds a page command may take here (the slowest, a sweep with real weights, takes ~60 s)
#: pick's refusal when the artifact it would recommend was replaced since it was measured (the pages' sweeps share
#: models/sweep, and each with other weights or calibration replaces the cell's artifact there)
STALE = "which now holds a different file than the one measured"


def _parsed_only(command: str) -> str | None:
    return next((why for pattern, why in PARSED_ONLY if re.search(pattern, command)), None)


class World:
    """The folder the commands run in, its devices and its home; runs each distinct command once."""

    def __init__(self, root: Path):
        self.root, self.repo = root, root / "repo"
        self.repo.mkdir(parents=True)
        self.home = root / "user"
        self.env = {**os.environ, "MOBILEDEPLOY_HOME": str(root / "md-home"), "KERAS_HOME": str(root / "keras"),
                    "MOBILEDEPLOY_WEIGHTS_URL": "http://127.0.0.1:9/", "HOME": str(self.home), "COLUMNS": "200"}
        self.shared = SHARED if (SHARED / "imagenet-sample").is_dir() else None
        self.results: dict[str, subprocess.CompletedProcess | str] = {}
        self.seconds: dict[str, float] = {}
        self.values: dict[str, str] = {"python": sys.executable}

    def build(self, sshd, phone, served) -> None:
        repo = self.repo
        (repo / "mobiledeploy.toml").write_text(WORLD_SETTINGS)
        (repo / "android_demo").mkdir()
        self.home.mkdir()
        from PIL import Image
        import numpy as np

        rng = np.random.default_rng(0)
        (repo / "images").mkdir()
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (160, 200, 3), dtype=np.uint8)).save(repo / "images" / f"{i}.jpg")
        Image.fromarray(rng.integers(0, 255, (160, 200, 3), dtype=np.uint8)).save(repo / "photo.jpg")
        if self.shared is not None:
            (self.root / "shared").symlink_to(self.shared.parent, target_is_directory=True)   # ../shared/data
            shutil.copy(self.shared / "images" / "parrot.jpg", repo / "photo.jpg")
            shutil.rmtree(repo / "images")
            shutil.copytree(self.shared / "images", repo / "images")
            sample = sorted((self.shared / "imagenet-sample").iterdir())[::10]     # 30 of the 300 photos
            wnids = (self.shared / "imagenet_wnids.txt").read_text().split()
            labels = (self.shared / "imagenet_labels.txt").read_text().splitlines()
            shutil.copy(self.shared / "imagenet_wnids.txt", repo / "wnids.txt")
            for folder in ("labelled", "labelled_images", "imagenet-val"):   # a wnid starts each file name
                (repo / folder).mkdir()
                for p in sample:
                    shutil.copy(p, repo / folder / p.name)
            (repo / "photos").mkdir()                      # no --wnids: a folder per class, named by its label
            for p in sample:
                label = labels[wnids.index(p.name.split("_")[0]) + 1]
                if "/" not in label:
                    (repo / "photos" / label).mkdir(exist_ok=True)
                    shutil.copy(p, repo / "photos" / label / p.name)
            reference = self.shared / "reference" / "mobilenet_v1_0.25_128_quant.tflite"
            for folder in (repo / "weights", self.home / "mobilenets", self.root / "keras" / "models"):
                folder.mkdir(parents=True)
                shutil.copy(reference, folder / reference.name)
            _google_archive(repo / "mobilenet_v1_0.5_128_quant.tgz", reference.read_bytes())
        (served / "mobilenet_5_0_128_tf.h5").write_bytes(b"the bytes a mirror serves")
        reference = SHARED / "reference" / "mobilenet_v1_0.25_128_quant.tflite"
        model = reference.read_bytes() if self.shared is not None else b"\x1c\x00\x00\x00TFL3" + bytes(64)
        _google_archive(served / "mobilenet_v1_0.5_128_quant.tgz", model)   # weights fetch --kind tflite-quant
        self.values.update(port=str(sshd.port), key=str(sshd.client_key), known_hosts=str(sshd.known_hosts))
        self.cli("devices", "add", "rpi4", "--ssh", f"root@127.0.0.1:{sshd.port}", "--key", sshd.client_key,
                 "--known-hosts", sshd.known_hosts, "--python", sys.executable)
        if phone is not None:
            self.cli("devices", "add", "pixel", "--adb", phone.serial, "--benchmark-binary", phone.benchmark_binary)

    def cli(self, *args, env=None) -> subprocess.CompletedProcess:
        exe = Path(sys.executable).with_name("mobiledeploy")
        proc = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, cwd=self.repo,
                              env={**self.env, **(env or {})}, timeout=900)
        assert proc.returncode == 0, proc.stderr
        return proc

    def argv(self, command: str) -> list[str]:
        """The command as the shell would split it: NARROWED applied, `[--opt V]` given, `~` expanded."""
        for pattern, replacement, _ in NARROWED:
            command = re.sub(pattern, replacement.format(**self.values), command)
        words = shlex.split(re.sub(r"\[(--[^\]]*)\]", r"\1", command))
        if words[1:2] == ["sweep"]:
            words = narrowed(words)
        return [str(self.home) + w[1:] if w.startswith("~/") else w for w in words]

    def skip_reason(self, command: str) -> str | None:
        if _parsed_only(command):
            return f"only parsed: {_parsed_only(command)}"
        if self.shared is None and NEEDS_SHARED.search(command):
            return f"needs {SHARED} (the shared test data beside the repository)"
        if "pixel" in command and "pixel" not in self.values:
            return "needs Debian's adb client for tests/adbd.py's phone"
        return None

    def run(self, command: str, extra_env=None) -> subprocess.CompletedProcess | str:
        """Each distinct command once: its process, or why it was not run."""
        if command in self.results:
            return self.results[command]
        reason = self.skip_reason(command)
        if reason:
            self.results[command] = reason
            return reason
        exe = Path(sys.executable).with_name("mobiledeploy")
        start = time.perf_counter()
        argv = [str(exe), *self.argv(command)[1:]]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, cwd=self.repo,
                                  env={**self.env, **(extra_env or {})}, timeout=TIMEOUT)
        except subprocess.TimeoutExpired as exc:   # a page command that does not end is a failure, not a hang
            out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
            proc = subprocess.CompletedProcess(argv, -9, out, f"did not end within {TIMEOUT} s")
        self.seconds[command] = time.perf_counter() - start
        self.results[command] = proc
        return proc


def narrowed(words: list[str]) -> list[str]:
    """A sweep's grid cut to one cell per family (or 2 cells of one family): the last resolutions, then the last
    alphas go, so the cheapest cells stay (each cell is an export, ~10 s here). Pages whose grid NARROWED names are
    cut there first, with their reason; any other wide grid a page shows is cut here."""
    words = list(words)
    value = {w: words[i + 1] for i, w in enumerate(words[:-1]) if w in ("--arch", "--alphas", "--res")}
    archs = len(value.get("--arch", "mobilenet_v1").split(","))
    if "--alphas" not in value or "--res" not in value:
        return words            # the settings file's 2-cell grid applies
    alphas, res = value["--alphas"].split(","), value["--res"].split(",")
    while archs * len(alphas) * len(res) > max(2, archs) and (len(res) > 1 or len(alphas) > 1):
        if len(res) > 1:
            res.pop()
        else:
            alphas.pop()
    words[words.index("--alphas") + 1], words[words.index("--res") + 1] = ",".join(alphas), ",".join(res)
    return words


def _google_archive(path: Path, model: bytes) -> None:
    """A .tgz in the layout of Google's MobileNet archives (checkpoint, graphs, the .tflite at the top)."""
    import io
    import tarfile

    stem = path.name.removesuffix(".tgz")
    with tarfile.open(path, "w:gz") as tar:
        for name, data in ((f"./{stem}.ckpt.index", b"i"), (f"./{stem}_info.txt", b"info"),
                           (f"./{stem}.tflite", model)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Every page command run once, the setup exports first: the World with its results."""
    import functools
    import threading

    from sshd import Sshd

    root = tmp_path_factory.mktemp("docs-world")
    (root / "sshd").mkdir()
    server = Sshd(root / "sshd").start()
    served = root / "served"
    served.mkdir()
    http_server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(served)))
    threading.Thread(target=http_server.serve_forever, daemon=True).start()
    with pytest.MonkeyPatch.context() as mp:
        phone = _phone(root, mp)
        try:
            w = World(root)
            if phone is not None:
                w.values["pixel"] = phone.serial
            w.build(server, phone, served)
            mirror = {"MOBILEDEPLOY_WEIGHTS_URL": f"http://127.0.0.1:{http_server.server_address[1]}/"}
            own_cache = {"KERAS_HOME": str(root / "keras-weights-commands")}   # the sweeps' cache stays as built
            first = FIRST if w.shared is not None else FIRST[:1]
            for command in first:
                proc = w.run(command)
                assert not isinstance(proc, str) and proc.returncode == 0, getattr(proc, "stderr", proc)
            if w.shared is None:   # the 0.25-128 artifact the pages use, with random weights
                w.cli("export", "--alpha", "0.25", "--res", "128", "--int8", "--weights", "none")
            for case in CASES:
                env = {**mirror, **own_cache} if case.command.startswith("mobiledeploy weights ") else None
                w.run(case.command, env)
            yield w
        finally:
            if phone is not None:
                phone.close_all()
            server.stop()
            http_server.shutdown()
            _timings(w)


def _timings(w: World) -> None:
    """How long each command took (stderr of the test run): the budget of this file is ~4 minutes."""
    total = sum(w.seconds.values())
    lines = [f"docs commands: {len(w.seconds)} run in {total:.0f} s"]
    lines += [f"  {seconds:5.1f} s  {command}" for command, seconds in sorted(w.seconds.items(), key=lambda kv: -kv[1])]
    print("\n" + "\n".join(lines[:9]), file=sys.stderr)
    if os.environ.get("DOCS_TIMINGS"):   # where to keep the whole list (benchmarking this file)
        Path(os.environ["DOCS_TIMINGS"]).write_text("\n".join(lines) + "\n")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _Phones:
    """tests/adbd.py's phone behind a private adb server, for the whole module."""

    def __init__(self, stack, dev, tool):
        self.stack, self.dev, self.serial, self.benchmark_binary = stack, dev, dev.serial, tool

    def close_all(self):
        self.stack.close()


def _phone(root: Path, mp) -> _Phones | None:
    import contextlib

    if not shutil.which("adb"):
        return None
    from adbd import private_server

    stack = contextlib.ExitStack()
    connect = stack.enter_context(private_server(root / "adb", mp))
    tool = root / "benchmark_model"
    tool.write_text(f"#!{sys.executable}\n" + (ROOT / "tests" / "adbd_benchmark_model.py").read_text())
    tool.chmod(0o755)
    return _Phones(stack, connect(), tool)


# ---- what a page shows against what the tool printed -------------------------------------------------------------

#: Lines that start so are the tool's messages; they must be in the real output.
TAGS = ("pick:", "why:", "deploy:", "artifact:", "nothing fits", "sweep:", "plot:", "predictor", "published top-1:",
        "random w.:", "added", "cached")
#: Messages that depend on the machine's state (noise, what the store holds): the page may show them when the real
#: run does not print them, but their words must be ones the tool prints (they are looked up in its source).
CONDITIONAL = ("warning:", "WARNING:", "INFO:", "busy:", "note:", "faster on the front:", "more accurate on the front:",
               "undecided against", "between runs,", "[export", "[bench", "[eval]")
SOURCE = "\n".join(p.read_text() for p in (ROOT / "mobiledeploy").rglob("*.py"))
LABEL = re.compile(r"\b(v2-)?a\d+(\.\d+)?-\d+(-(fp32|int8))?\b")
PATH = re.compile(r"\S*/\S*")
NUMBER = re.compile(r"[-+]?\d+(\.\d+)?(e[-+]?\d+)?")


def skeleton(text: str) -> str:
    """The words of a line with its paths, variant labels and numbers as placeholders, spaces collapsed."""
    text = PATH.sub("P", text.replace("…", ""))
    text = LABEL.sub("L", text)
    text = re.sub(r"measured \(n=\d+\)|published", "SRC", text)
    text = NUMBER.sub("#", text)
    return " ".join(text.split())


def cells(line: str, bar: str) -> list[str]:
    return [c.strip() for c in line.strip().strip(bar).split(bar)]


def real_output(case: Shown, proc: subprocess.CompletedProcess) -> list[str]:
    lines = proc.stdout.splitlines()
    tail = re.search(r"\| tail -(\d+)", case.raw)
    if tail:
        lines = lines[-int(tail.group(1)):]
    lines += proc.stderr.splitlines()
    if "echo $?" in case.raw:
        lines.append(str(proc.returncode))
    return lines


def mismatches(shown: list[str], real: list[str]) -> list[str]:
    """What the page shows that the real output does not have (empty: the page tells the truth)."""
    problems = []
    real_headers = [cells(line, "┃") for line in real if "┃" in line]
    real_rows = [cells(line, "│") for line in real if line.strip().startswith("│")]
    real_text = [line.strip() for line in real if "┃" not in line and "│" not in line]
    previous = None
    for line in shown:
        text = line.strip()
        if not text or set(text) <= set("┏┡└━┳╇┴─┗┛┓┩┘┬┼ …."):
            previous = None
            continue
        if "┃" in text:
            if cells(text, "┃") not in real_headers:
                problems.append(f"table columns {cells(text, '┃')} are not the tool's: {real_headers}")
            previous = None
            continue
        if text.startswith("│"):
            shown_cells = cells(text, "│")
            if set("".join(shown_cells)) <= set("… "):
                continue
            if not any(len(r) == len(shown_cells) for r in real_rows):
                problems.append(f"a row of {len(shown_cells)} columns; the tool's rows have "
                                f"{sorted({len(r) for r in real_rows})}: {text[:80]}")
            elif shown_cells[0] not in {r[0] for r in real_rows}:
                problems.append(f"no row starts with {shown_cells[0]!r}: {text[:80]}")
            previous = None
            continue
        tag = next((t for t in CONDITIONAL + TAGS if text.startswith(t)), None)
        if tag in CONDITIONAL:
            words = tag.rstrip(":[ ").lstrip("[")
            if words not in SOURCE and not any(line.startswith(tag) for line in real_text):
                problems.append(f"the tool has no message starting {tag!r}")
            previous = "tagged"
            continue
        if tag is None and previous is not None and not line.startswith("  "):
            continue        # a long line the page wraps for reading (an indented line is a message of its own)
        first = text.split(";")[0] if tag else text   # what follows a message's first clause depends on the store
        if tag == "predictor":   # which fit and its error need 3+ measured cells; the line's subject does not
            first = text.split(" thr")[0] + " thr"
        want = skeleton(first)
        if re.search(r"(\.\.\.|…)\s*$", text) or previous is not None:
            want = want.rstrip(" P.")
        if not any(skeleton(r).startswith(want) for r in real_text) and not any(
                skeleton(r).startswith(want[:60]) and len(want) > 60 and _wrapped(text) for r in real_text):
            problems.append(f"not in the tool's output (in these words): {text[:110]}")
        previous = "line"
    return problems


def _wrapped(text: str) -> bool:
    """A line the page cut to fit (it goes on on the next line)."""
    return not text.endswith((".", ")", "%", "s"))


# ---- the tests ---------------------------------------------------------------------------------------------------

RAN = [c for c in CASES if not _parsed_only(c.command)]


def test_every_command_is_run_or_said_why_not():
    parsed = [c for c in CASES if _parsed_only(c.command)]
    assert len(RAN) >= 55 and len(parsed) <= len(CASES) // 4, (len(RAN), [c.where for c in parsed])
    assert sum(c.output is not None for c in CASES) >= 15, "the pages' shown outputs were not found"


@pytest.mark.parametrize("case", RAN, ids=[c.where for c in RAN])
def test_a_command_shown_in_the_docs_runs_and_prints_what_the_page_shows(world, case):
    proc = world.run(case.command)
    if isinstance(proc, str):
        pytest.skip(proc)
    codes = {0, 3} if case.command.startswith("mobiledeploy pick ") else {0}
    if proc.returncode == 2 and case.command.startswith("mobiledeploy pick ") and STALE in proc.stderr:
        pytest.skip(f"{case.where}: a later sweep of the pages into the same --out replaced the artifact pick chose, "
                    f"and pick refuses to recommend it: {proc.stderr.strip()[:300]}")
    assert proc.returncode in codes, f"{case.where}: `{' '.join(world.argv(case.command))}` exit " \
                                     f"{proc.returncode}:\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr, proc.stderr
    if "--json" in world.argv(case.command):
        json.loads(proc.stdout)
    if not case.output:
        return
    real = real_output(case, proc)
    if proc.returncode == 3 and not any(line.startswith("nothing fits") for line in case.output):
        pytest.skip(f"{case.where}: nothing fitted the budget on this machine, so the shown answer could not be "
                    f"compared: {proc.stdout.strip()[:200]}")
    if "echo $?" in case.raw and case.output[-1].strip() != str(proc.returncode):
        pytest.fail(f"{case.where}: the page shows exit {case.output[-1].strip()}, the tool exited {proc.returncode}")
    problems = mismatches(case.output, real)
    known = next((why for pattern, why in KNOWN if re.search(pattern, case.where)), None)
    if problems and known:
        pytest.xfail(f"{case.where}: {known}: " + "; ".join(problems)[:300])
    assert not problems, f"{case.where}: `{case.raw}`\n" + "\n".join(problems) + "\n--- the tool printed:\n" + \
        "\n".join(real)
