"""The results store: every measurement kept as a typed `BenchRecord`, and every measured accuracy, in a database.

Which database, first found wins: the command line (`mobiledeploy --store URL ...`, through `use`), the
MOBILEDEPLOY_STORE environment variable, `[store] url` in mobiledeploy.toml (read by the CLI, through `use`),
else SQLite at $MOBILEDEPLOY_HOME/results.db. A team points everyone at one PostgreSQL database
(`postgresql://USER@HOST/DB`; the password comes the libpq way: ~/.pgpass, PGPASSFILE or PGPASSWORD).

- A results.jsonl (and accuracy.jsonl) of an earlier version in the home is imported on first use, once: every
  record has a content id, so importing again adds nothing; the file is then kept as results.jsonl.imported.
- A result is stored whole or not at all (one transaction). When a PostgreSQL server cannot be reached, the
  result is kept in $MOBILEDEPLOY_HOME/unsent.jsonl and sent with the next result that reaches it, or by
  `mobiledeploy results send`; the user is told where it is.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path, PurePath

import sqlalchemy as sa

from ..errors import MobiledeployError
from ..home import home
from . import database as db
from . import record_lines
from .record import RECORD_FORMAT, BadRecord, BenchRecord

log = logging.getLogger("mobiledeploy")

ENV = "MOBILEDEPLOY_STORE"
_chosen: str | None = None         # the command line's
_configured: str | None = None     # the settings file's (the environment wins over it)
OLD_FILES = ("results.jsonl", "accuracy.jsonl")   # the stores of versions before 0.3, imported on first use
_not_imported: set[tuple] = set()  # old files this process failed to import (told once, not at every call)
_told_unsent = False


StoreUnreachable = db.Unreachable


# ---- which store ----------------------------------------------------------------------------------------------
def use(url: str | None, configured: str | None = None) -> None:
    """Use this store from now on in this process: `url` from the command line (or the API) beats the
    environment, `configured` (a settings file's [store] url) does not."""
    global _chosen, _configured
    _chosen, _configured = url or None, configured or None


def url() -> str:
    """The store in use, as a database URL."""
    chosen = _chosen or os.environ.get(ENV) or _configured or None
    if chosen:
        return chosen if "://" in chosen else f"sqlite:///{Path(chosen).absolute()}"   # a plain path: SQLite
    return f"sqlite:///{home() / 'results.db'}"


def where() -> str:
    """The store in use as it may be printed (a PostgreSQL password never is)."""
    u = url()
    return u[len("sqlite:///"):] if u.startswith("sqlite:///") else db.shown(u)


def unsent_path() -> Path:
    """Results a database server could not take yet."""
    return home() / "unsent.jsonl"


def _engine() -> sa.Engine:
    u = url()
    if db.is_sqlite(u) and not Path(sa.engine.make_url(u).database or "").exists():
        db.forget(u)            # moved away or deleted since: a new file, not the connections of the old one
    try:
        eng = db.engine(u)
    except sa.exc.SQLAlchemyError as exc:
        raise _error(u, "open", exc) from None
    if any((home() / name).is_file() for name in OLD_FILES):
        _import_old_files(eng, u)
    return eng


def _nothing_stored() -> bool:
    """No SQLite store and no old file to import: a reader answers "nothing" without creating the store (a
    command that only reads leaves no home behind)."""
    u = url()
    if not db.is_sqlite(u) or Path(sa.engine.make_url(u).database or "").exists():
        return False
    try:
        return not any((home() / name).is_file() for name in OLD_FILES)
    except MobiledeployError:
        return False


def _error(u: str, doing: str, exc: BaseException) -> MobiledeployError:
    text = db.translate(u, doing).message(exc)
    return StoreUnreachable(text) if not db.is_sqlite(u) and db.unreachable(exc) else MobiledeployError(text)


class _failing:
    """Database errors inside as one MobiledeployError line (StoreUnreachable for a server out of reach)."""

    def __init__(self, doing: str):
        self.doing = doing

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if isinstance(exc, sa.exc.SQLAlchemyError):
            raise _error(url(), self.doing, exc) from None
        return False


# ---- writing --------------------------------------------------------------------------------------------------
def row(record: BenchRecord) -> dict:
    """A record as the results table's row: its indexed facts, its JSON, its latencies apart."""
    doc = record.to_dict()
    latencies = doc.pop("latencies_ms")
    text = json.dumps(doc, sort_keys=True, allow_nan=False, default=str)
    lat = json.dumps(latencies, allow_nan=False)
    model = record.model
    return {"uid": hashlib.sha256(text.encode()).hexdigest(), "time": record.time, "device": record.device,
            "host": getattr(record.device_facts, "host", None), "artifact": record.artifact,
            "folder": str(PurePath(record.artifact).parent), "run": record.run, "file": record.file,
            "sha256": record.sha256, "family": model.architecture if model else None,
            "alpha": model.alpha if model else None, "resolution": model.resolution if model else None,
            "precision": record.precision, "weights": model.weights_kind if model else None,
            "threads": record.threads, "settings": json.dumps(list(record.settings.key())),
            "p90_ms": record.p90.value, "record_format": RECORD_FORMAT,
            "version": record.version, "record": text, "latencies": lat}


def append(record: BenchRecord) -> None:
    """Store one result, whole or not at all; a server out of reach: kept in unsent.jsonl, sent later."""
    global _told_unsent
    try:
        insert([record])
    except StoreUnreachable as exc:
        record_lines.append(unsent_path(), record)
        if not _told_unsent:
            _told_unsent = True
            log.warning("%s; this result and the next are kept in %s and sent when the store is back (or by "
                        "`mobiledeploy results send`)", exc, unsent_path())
        return
    if unsent_path().exists():
        try:
            send_unsent()
        except MobiledeployError as exc:
            log.warning("results waiting in %s were not sent: %s", unsent_path(), exc)


def insert(records: list[BenchRecord]) -> int:
    """Store records in one transaction; how many were new (a record stored before is not stored twice)."""
    rows = [row(r) for r in records]
    eng = _engine()
    with _failing("write"), db.writing(eng) as conn, conn.begin():
        return db.insert_ignoring_known(conn, db.RESULTS, rows)


def send_unsent() -> tuple[int, Path | None]:
    """Send the results kept in unsent.jsonl; (how many were new, where the sent file is kept)."""
    p = unsent_path()
    if not p.exists():
        return 0, None
    records = record_lines.read(p)
    added = insert(records)
    kept = _aside(p, ".sent")
    return added, kept


def check_writable() -> None:
    """Refuse before measuring when the store cannot take a result (numbers that cannot be stored are not
    measured); a server out of reach is not a refusal when unsent.jsonl can keep the results."""
    u = url()
    if db.is_sqlite(u):
        # the folder too: WAL keeps files beside the database
        record_lines.check_writable(Path(sa.engine.make_url(u).database or ""), "results store", size_cap=False)
    try:
        _engine()
    except StoreUnreachable as exc:
        record_lines.check_writable(unsent_path())
        log.warning("%s; results will be kept in %s until it is back", exc, unsent_path())


# ---- reading --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Filter:
    """Which results: every field None means any."""

    device: str | None = None
    artifact: str | None = None     # one artifact folder (absolute)
    within: str | None = None       # artifact folders under this folder
    family: str | None = None
    since: str | None = None        # an ISO time: results measured at or after it
    run: str | None = None
    sha256: str | None = None

    def where(self):
        c, out = db.RESULTS.c, []
        for column, value in ((c.device, self.device), (c.artifact, self.artifact), (c.family, self.family),
                              (c.run, self.run), (c.sha256, self.sha256)):
            if value is not None:
                out.append(column == value)
        if self.since is not None:
            out.append(c.time >= self.since)
        if self.within is not None:
            base = self.within.rstrip("/") or "/"
            out.append(sa.or_(c.folder == base, c.artifact == base,
                              c.artifact.startswith(base.rstrip("/") + "/", autoescape=True)))
        return out


def history(device: str | None = None, *, latencies: bool = False, where: Filter | None = None) -> list[BenchRecord]:
    """Stored records, oldest first (of one device, or as `where` says); rows that are not records are skipped
    with one warning. `latencies`: with each record's raw latencies (the tables and pick do not need them)."""
    f = where or Filter()
    if device is not None:
        f = Filter(**{**f.__dict__, "device": device})
    if _nothing_stored():
        return []
    cols = [db.RESULTS.c.id, db.RESULTS.c.record] + ([db.RESULTS.c.latencies] if latencies else [])
    query = sa.select(*cols).where(*f.where()).order_by(db.RESULTS.c.time, db.RESULTS.c.id)
    eng = _engine()
    out, skipped = [], []
    with _failing("read"), eng.connect() as conn:
        for fetched in conn.execute(query):
            try:
                doc = json.loads(fetched.record)
                if latencies:
                    doc["latencies_ms"] = json.loads(fetched.latencies or "[]")
                out.append(BenchRecord.from_dict(doc))
            except BadRecord as exc:
                skipped.append((fetched.id, str(exc)))
            except (ValueError, TypeError, OverflowError, RecursionError, KeyError, AttributeError) as exc:
                skipped.append((fetched.id, f"{type(exc).__name__}: {str(exc)[:80]}"))
    if skipped:
        log.warning("skipped %d stored result%s of %s that %s not bench records (id %s: %s; kept the other %d)",
                    len(skipped), "s" if len(skipped) > 1 else "", where_text(), "are" if len(skipped) > 1 else "is",
                    skipped[0][0], skipped[0][1], len(out))
    return out


def measured(devices: list[str]) -> set[tuple]:
    """(device, artifact folder with its links resolved, file sha256, settings key) of every result stored for
    these devices: what a sweep need not measure again. The folder counts: the same bytes in another sweep's
    folder are another artifact, whose result a sweep scoped to its own folder would not see."""
    if _nothing_stored():
        return set()
    c = db.RESULTS.c
    eng = _engine()
    with _failing("read"), eng.connect() as conn:
        got = conn.execute(sa.select(c.device, c.artifact, c.sha256, c.settings).where(c.device.in_(devices))
                           .distinct())
        out = set()
        for device, artifact, sha, settings in got:
            try:
                out.add((device, os.path.realpath(artifact), sha, tuple(json.loads(settings))))
            except (ValueError, TypeError, RecursionError):
                continue
        return out


def where_text() -> str:
    return where()


def state() -> tuple:
    """What changes whenever a result or an accuracy is stored or pruned (a page rebuilt only when it does)."""
    eng = _engine()
    with _failing("read"), eng.connect() as conn:
        out = ()
        for table in (db.RESULTS, db.ACCURACY):
            out += tuple(conn.execute(sa.select(sa.func.count(), sa.func.max(table.c.id))).one())
        return out


def count(where: Filter | None = None) -> int:
    eng = _engine()
    with _failing("read"), eng.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(db.RESULTS)
                            .where(*(where or Filter()).where())).scalar()


def prune(where: Filter, before: str | None, dry_run: bool) -> int:
    """Delete the results `where` selects that were measured before `before`; how many (would) go."""
    conds = list(where.where()) + ([db.RESULTS.c.time < before] if before else [])
    eng = _engine()
    with _failing("prune"), db.writing(eng) as conn, conn.begin():
        n = conn.execute(sa.select(sa.func.count()).select_from(db.RESULTS).where(*conds)).scalar()
        if not dry_run and n:
            conn.execute(db.RESULTS.delete().where(*conds))
        return n


# ---- accuracy -------------------------------------------------------------------------------------------------
def _accuracy_row(doc) -> dict | None:
    if not isinstance(doc, dict):
        return None
    sha, top1 = doc.get("sha256"), doc.get("top1")
    if not isinstance(sha, str) or not 0 < len(sha) <= 64 or isinstance(top1, bool) \
            or not isinstance(top1, (int, float)) or not 0 <= top1 <= 1:
        return None
    try:
        text = json.dumps(doc, sort_keys=True, allow_nan=False)
    except (ValueError, TypeError, RecursionError):
        return None
    return {"uid": hashlib.sha256(text.encode()).hexdigest(), "sha256": sha, "top1": float(top1), "record": text}


def add_accuracy(doc: dict) -> None:
    """Store one measured accuracy (a dict with at least sha256 and top1 in [0, 1])."""
    r = _accuracy_row(doc)
    if r is None:
        raise MobiledeployError("an accuracy result needs a sha256 and a top1 from 0 to 1 (this is a bug: report it)")
    eng = _engine()
    with _failing("write"), db.writing(eng) as conn, conn.begin():
        db.insert_ignoring_known(conn, db.ACCURACY, [r])


def accuracy_docs() -> list[dict]:
    """Every stored accuracy, oldest first (rows that are not JSON objects are skipped)."""
    if _nothing_stored():
        return []
    eng = _engine()
    out = []
    with _failing("read"), eng.connect() as conn:
        for (text,) in conn.execute(sa.select(db.ACCURACY.c.record).order_by(db.ACCURACY.c.id)):
            try:
                doc = json.loads(text)
            except (ValueError, RecursionError):
                continue
            if _accuracy_row(doc) is not None:
                out.append(doc)
    return out


# ---- the files of earlier versions ------------------------------------------------------------------------------
def _aside(p: Path, suffix: str) -> Path | None:
    """Rename a file out of the way beside itself (never over another); where it went, None if it is gone."""
    for n in range(1, 1000):
        target = p.with_name(p.name + suffix + (f".{n}" if n > 1 else ""))
        if target.exists() or target.is_symlink():
            continue
        try:
            os.link(p, target)      # never replaces an existing target, unlike rename
            os.unlink(p)
            return target
        except FileNotFoundError:
            return None             # another process moved it first
        except FileExistsError:
            continue
        except OSError:
            os.rename(p, target)    # a file system without hard links
            return target
    return None


def _import_old_files(eng: sa.Engine, u: str) -> None:
    """results.jsonl and accuracy.jsonl of an earlier version, in the home: imported once, then kept aside."""
    base = home()
    for name, load in zip(OLD_FILES, (_results_rows, _accuracy_rows)):
        p = base / name
        if not p.is_file() or p.is_symlink():
            continue
        st = p.stat()
        if (str(p), st.st_mtime_ns, st.st_size) in _not_imported:
            continue
        try:
            table, rows = load(p)
            with db.writing(eng) as conn, conn.begin():
                added = db.insert_ignoring_known(conn, table, rows)
        except (MobiledeployError, sa.exc.SQLAlchemyError, OSError) as exc:
            log.warning("could not import %s into the results store %s: %s", p, where(),
                        _error(u, "import into", exc) if isinstance(exc, sa.exc.SQLAlchemyError) else exc)
            _not_imported.add((str(p), st.st_mtime_ns, st.st_size))
            continue
        kept = _aside(p, ".imported")
        if kept is not None:
            log.warning("imported %d of %d %s from %s into %s (the old file is kept as %s)", added, len(rows),
                        "results" if table is db.RESULTS else "accuracy results", p, where(), kept.name)


def _results_rows(p: Path):
    return db.RESULTS, [row(r) for r in record_lines.read(p)]


def _accuracy_rows(p: Path):
    rows = []
    data = p.read_bytes()
    if len(data) > 256 << 20:
        raise MobiledeployError(f"{p} is larger than 256 MiB: not an accuracy store")
    for line in data.splitlines():
        try:
            r = _accuracy_row(json.loads(line, parse_constant=lambda name: None))
        except (ValueError, RecursionError, UnicodeDecodeError):
            continue
        if r is not None:
            rows.append(r)
    return db.ACCURACY, rows
