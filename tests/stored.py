"""What a test's results store holds, read straight from its SQLite file with Python's sqlite3 (not through
the store code under test): the records as JSON objects with their latencies, oldest first."""
import json
import sqlite3
from pathlib import Path


def stored(home) -> list[dict]:
    """The records in home/results.db ([] when there is no store yet)."""
    db = Path(home) / "results.db"
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT record, latencies FROM results ORDER BY time, id").fetchall()
    except sqlite3.OperationalError:     # created, no table yet
        return []
    finally:
        con.close()
    return [{**json.loads(record), "latencies_ms": json.loads(latencies or "[]")} for record, latencies in rows]


def stored_count(home) -> int:
    return len(stored(home))
