"""The connection and session factories the repository fixtures use (test/fixtures/rewrite/repository-py).

`get_db()` is the raw side: a context manager yielding a new DB-API connection (sqlite3 or
psycopg2, by the database the harness points it at) that is closed, never committed, on exit,
so only an explicit `conn.commit()` keeps a write. `get_session()` is the rewritten side: a
SQLAlchemy Session (future=True) on the same database, closed on exit. `sqlite_path()` lets a
fixture open its own sqlite3 connection (to set a row_factory)."""
import sqlite3
from contextlib import contextmanager

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

TARGET = {"backend": None, "path": None, "dsn": None, "engine": None}


def use_sqlite(path):
    close()
    TARGET.update(backend="sqlite", path=path, dsn=None, engine=create_engine("sqlite:///" + path, future=True))
    return TARGET["engine"]


def use_postgres(dsn):
    import psycopg2

    close()
    TARGET.update(backend="postgresql", path=None, dsn=dsn, engine=create_engine("postgresql+psycopg2://", creator=lambda: psycopg2.connect(dsn), future=True))
    return TARGET["engine"]


def close():
    if TARGET["engine"] is not None:
        TARGET["engine"].dispose()
    TARGET.update(backend=None, path=None, dsn=None, engine=None)


def sqlite_path():
    return TARGET["path"]


def connect():
    if TARGET["backend"] == "sqlite":
        return sqlite3.connect(TARGET["path"])
    if TARGET["backend"] == "postgresql":
        import psycopg2

        return psycopg2.connect(TARGET["dsn"])
    raise RuntimeError("no database selected")


@contextmanager
def get_db():
    conn = connect()
    try:
        yield conn
    finally:
        conn.close()


def get_session():
    return Session(TARGET["engine"], future=True)
