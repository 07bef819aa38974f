"""The results database: SQLAlchemy Core over SQLite (the default, one file in the home) or PostgreSQL (a team's
shared server), one schema and one code path for both.

Why SQLAlchemy Core and not Python's sqlite3 beside psycopg: the two databases differ in placeholders, upserts,
types and error classes; Core writes the SQL for each from one table definition, so every query below runs on
both unchanged. No ORM: the typed `BenchRecord` is the object; a row is its indexed facts plus its JSON.

The schema is versioned (`meta.schema_version`); `MIGRATIONS` holds the forward steps from each earlier version,
applied in one transaction. A database written by a newer version is refused, never altered. SQLite files are
created and migrated on first use; a PostgreSQL database gets its schema from `mobiledeploy results init`
(a team's database is created on purpose, by someone with the right to create tables), and one without it is
refused with that command.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..errors import MobiledeployError
from ..fsutil import special_kind

SCHEMA_VERSION = 1
MIN_POSTGRES = 12          # generated identity columns, the oldest server still supported by its project
BUSY_TIMEOUT_S = 60        # a SQLite writer waits this long for another one to finish

meta = sa.MetaData()
META = sa.Table("meta", meta, sa.Column("key", sa.String(64), primary_key=True),
                sa.Column("value", sa.Text, nullable=False))
RESULTS = sa.Table(
    "results", meta,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("uid", sa.String(64), nullable=False, unique=True),     # sha256 of the record: import is idempotent
    sa.Column("time", sa.String(40), nullable=False),
    sa.Column("device", sa.Text, nullable=False),
    sa.Column("host", sa.Text),                                       # the lab worker that measured it
    sa.Column("artifact", sa.Text, nullable=False),                   # the artifact folder, absolute
    sa.Column("folder", sa.Text, nullable=False),                     # its parent: the sweep's --out
    sa.Column("run", sa.Text),                                        # the sweep run, when a sweep measured it
    sa.Column("file", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64)),
    sa.Column("family", sa.String(40)),
    sa.Column("alpha", sa.Float),
    sa.Column("resolution", sa.Integer),
    sa.Column("precision", sa.String(16), nullable=False),
    sa.Column("weights", sa.String(40)),                              # the manifest's weights kind
    sa.Column("threads", sa.Integer, nullable=False),
    sa.Column("settings", sa.Text, nullable=False),                   # BenchSettings.key()
    sa.Column("p90_ms", sa.Float),
    sa.Column("record_format", sa.Integer, nullable=False),
    sa.Column("version", sa.String(40)),
    sa.Column("record", sa.Text, nullable=False),                     # the record's JSON without its latencies
    sa.Column("latencies", sa.Text),                                  # its latencies (JSON), read when asked for
)
sa.Index("results_device_time", RESULTS.c.device, RESULTS.c.time)
sa.Index("results_sha256", RESULTS.c.sha256, RESULTS.c.settings)
sa.Index("results_folder", RESULTS.c.folder)
sa.Index("results_run", RESULTS.c.run)
sa.Index("results_time", RESULTS.c.time)
ACCURACY = sa.Table(
    "accuracy", meta,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("uid", sa.String(64), nullable=False, unique=True),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column("top1", sa.Float, nullable=False),
    sa.Column("record", sa.Text, nullable=False),
)

# forward steps: MIGRATIONS[v] takes a database at schema v to v + 1 (none yet: version 1 is the first)
MIGRATIONS: dict[int, list[str]] = {}

class Unreachable(MobiledeployError):
    """The database server could not be reached (the store keeps results locally meanwhile)."""


_engines: dict[str, sa.Engine] = {}
_lock = threading.Lock()


def shown(url: str) -> str:
    """A database URL as it may be printed: never with its password (a SQLite file: its path)."""
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///"):]
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown by its scheme only
        return url.split(":", 1)[0] + ":..."


def engine(url: str) -> sa.Engine:
    """The one engine of this process for `url`, its schema checked (SQLite: created or migrated)."""
    with _lock:
        if url in _engines:
            return _engines[url]
        eng = _make(url)
        try:
            _prepare(eng, url)
        except BaseException:
            eng.dispose()
            raise
        _engines[url] = eng
        return eng


def forget(url: str | None = None) -> None:
    """Drop the engine of `url` (None: every engine), e.g. when its SQLite file was moved away."""
    with _lock:
        for key in [url] if url is not None else list(_engines):
            eng = _engines.pop(key, None)
            if eng is not None:
                eng.dispose()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _engines.clear())


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


def _make(url: str) -> sa.Engine:
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise MobiledeployError(f"the results store {shown(url)!r} is not a database URL: give sqlite:///PATH or "
                                "postgresql://USER@HOST:PORT/DB") from None
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        return sa.create_engine(parsed, pool_pre_ping=True, pool_size=2, max_overflow=2,
                                connect_args={"connect_timeout": 10, "application_name": "mobiledeploy"})
    raise MobiledeployError(f"the results store {shown(url)!r} is neither SQLite nor PostgreSQL: give "
                            "sqlite:///PATH or postgresql://USER@HOST:PORT/DB")


def _sqlite_engine(parsed) -> sa.Engine:
    path = parsed.database
    if not path or path == ":memory:":
        raise MobiledeployError("a SQLite results store needs a file: give sqlite:///PATH")
    p = Path(path)
    kind = special_kind(p)
    if kind is not None:
        raise MobiledeployError(f"the results store {p} is {kind}, not a regular file: move it away or set "
                                "MOBILEDEPLOY_STORE to another file")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MobiledeployError(f"cannot create the results store's folder {p.parent}: {exc.strerror or exc} "
                                "(set MOBILEDEPLOY_HOME to a writable folder)") from None
    eng = sa.create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_S, "isolation_level": None})

    @sa.event.listens_for(eng, "connect")
    def _on_connect(dbapi_conn, _record):   # noqa: ANN001 - SQLAlchemy's hook
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
            cur.execute("PRAGMA journal_mode = WAL")    # readers never wait for a writer
            cur.execute("PRAGMA synchronous = NORMAL")  # WAL: a killed process loses nothing committed
            cur.execute("PRAGMA foreign_keys = ON")
        finally:
            cur.close()

    @sa.event.listens_for(eng, "begin")
    def _on_begin(conn):   # noqa: ANN001 - SQLAlchemy's hook
        # a writer takes the write lock at the start: two writers never deadlock upgrading a read lock
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("writes") else "BEGIN")

    return eng


def writing(eng: sa.Engine) -> sa.Connection:
    """A connection for a transaction that writes (`with writing(eng) as conn, conn.begin(): ...`)."""
    return eng.connect().execution_options(writes=True)


def _prepare(eng: sa.Engine, url: str) -> None:
    """Check the server and the schema version; create or migrate a SQLite file's schema."""
    with translate(url, "open"):
        with writing(eng) as conn, conn.begin():
            if eng.dialect.name == "postgresql":
                major = (eng.dialect.server_version_info or (0,))[0]
                if major < MIN_POSTGRES:
                    raise MobiledeployError(f"the results store {shown(url)} is PostgreSQL {major}: mobiledeploy "
                                            f"needs {MIN_POSTGRES} or newer")
            have = _schema_version(conn)
            if have is None:
                if eng.dialect.name != "sqlite":
                    raise MobiledeployError(f"the database {shown(url)} has no mobiledeploy schema: create it once "
                                            f"with `mobiledeploy results init --store URL` (needs the right to "
                                            "create tables)")
                _create(conn)
            elif have > SCHEMA_VERSION:
                raise MobiledeployError(f"the results store {shown(url)} has schema version {have}, newer than this "
                                        f"mobiledeploy reads ({SCHEMA_VERSION}): upgrade mobiledeploy")
            elif have < SCHEMA_VERSION:
                _migrate(conn, have)


def init(url: str) -> str:
    """Create (or migrate) the schema of a database; what was done, in words."""
    eng = _make(url)
    try:
        with translate(url, "initialise"):
            with writing(eng) as conn, conn.begin():
                have = _schema_version(conn)
                if have is None:
                    _create(conn)
                    return f"created the mobiledeploy schema (version {SCHEMA_VERSION}) in {shown(url)}"
                if have > SCHEMA_VERSION:
                    raise MobiledeployError(f"{shown(url)} has schema version {have}, newer than this mobiledeploy "
                                            f"({SCHEMA_VERSION}): upgrade mobiledeploy")
                if have < SCHEMA_VERSION:
                    _migrate(conn, have)
                    return f"migrated {shown(url)} from schema {have} to {SCHEMA_VERSION}"
                return f"{shown(url)} already has the mobiledeploy schema (version {SCHEMA_VERSION})"
    finally:
        eng.dispose()


def _schema_version(conn) -> int | None:
    if not sa.inspect(conn).has_table("meta"):
        return None
    value = conn.execute(sa.select(META.c.value).where(META.c.key == "schema_version")).scalar()
    try:
        return int(value)
    except (TypeError, ValueError):
        raise MobiledeployError(f"the results store's schema version is {str(value)[:20]!r}, not a number: "
                                "it was not written by mobiledeploy") from None


def _create(conn) -> None:
    meta.create_all(conn)
    conn.execute(META.insert(), [{"key": "schema_version", "value": str(SCHEMA_VERSION)}])


def _migrate(conn, have: int) -> None:
    for version in range(have, SCHEMA_VERSION):
        for statement in MIGRATIONS[version]:
            conn.exec_driver_sql(statement)
    conn.execute(META.update().where(META.c.key == "schema_version").values(value=str(SCHEMA_VERSION)))


def insert_ignoring_known(conn, table: sa.Table, rows: list[dict]) -> int:
    """Insert rows whose uid is not there yet; how many went in."""
    if not rows:
        return 0
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).on_conflict_do_nothing(index_elements=["uid"]).returning(table.c.id)
    return len(conn.execute(stmt, rows).all())


class translate:
    """A database failure as one line naming the store and what to do; MobiledeployError passes unchanged."""

    def __init__(self, url: str, doing: str):
        self.url, self.doing = url, doing

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or not isinstance(exc, sa.exc.SQLAlchemyError):
            return False
        if not is_sqlite(self.url) and unreachable(exc):
            raise Unreachable(self.message(exc)) from None
        raise MobiledeployError(self.message(exc)) from None

    def message(self, exc: BaseException) -> str:
        where = shown(self.url)
        text = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300] if str(exc).strip() else \
            type(exc).__name__
        low = text.lower()
        if "file is not a database" in low or "malformed" in low:
            return (f"the results store {where} is not a readable SQLite database ({text}): move it away (a new "
                    "one is started; `mobiledeploy results import` takes an export back) or set MOBILEDEPLOY_STORE")
        if "disk is full" in low or "no space" in low:
            return f"cannot {self.doing} the results store {where}: its disk is full: free space and run again"
        if "unable to open database file" in low:
            return (f"cannot {self.doing} the results store {where}: SQLite cannot open it (its folder must be "
                    "writable: SQLite keeps its journal beside the file): fix the permissions or set "
                    "MOBILEDEPLOY_STORE to another file")
        if "readonly" in low or "read-only" in low or "permission denied" in low:
            return (f"cannot {self.doing} the results store {where}: it is read-only ({text}): fix its "
                    "permissions or set MOBILEDEPLOY_STORE to a writable one")
        if "password authentication failed" in low or "no password supplied" in low:
            return (f"the results store {where} refused the login ({text.split(':')[-1].strip() or 'password'}): "
                    "give the password the libpq way (~/.pgpass or PGPASSFILE, or PGPASSWORD), not in a command")
        if isinstance(exc, sa.exc.OperationalError) and ("connection" in low or "connect" in low
                                                        or "server" in low or "timeout" in low):
            return f"cannot reach the results store {where} ({text}): start the server or check its address"
        if "locked" in low:
            return (f"the results store {where} stayed locked by another writer for {BUSY_TIMEOUT_S} s: "
                    "run again when it is done")
        return f"cannot {self.doing} the results store {where}: {text}"


def unreachable(exc: BaseException) -> bool:
    """A failure to reach a database server (keep results locally and send them later), not a bad database."""
    if not isinstance(exc, sa.exc.OperationalError) and not isinstance(exc, sa.exc.InterfaceError):
        return False
    low = str(getattr(exc, "orig", None) or exc).lower()
    return any(w in low for w in ("connection", "connect", "server closed", "terminating", "timeout",
                                  "could not receive", "could not send", "shutdown"))
