"""Runs original and `asyncio.to_thread` rewritten coroutines side by side (the `python` tier,
test/python/to-thread.test.ts). harness.py's protocol is untouched; this reuses its value
normalisation and session snapshot.

Input (stdin, JSON): {"pairs": [{"name": str, "original": source, "rewritten": source}],
                      "strict_sqlite": bool (optional: SQLAlchemy engines without check_same_thread=False)}
Output (stdout, JSON): {"sqlalchemy": version, "python": version,
                        "results": [{"name", "fn", "kwargs", "original", "rewritten"}],
                        "errors": [{"name", "side", "error"}]}

Every public `async def` of the original module is run, in both modules, once per entry of the
module's optional `CALLS = {"fn": [{kwargs}, ...]}`, each run under `asyncio.run` on a fresh
SQLite database file seeded by sqlm_models.seed. The module's `DB_PATH` is set to that file; a
parameter named `session` or `db` gets a SQLAlchemy Session on it (future=True, the documented
multi-thread SQLite setup: connect_args={"check_same_thread": False}, unless strict_sqlite).
Compared: the returned value (harness.norm; exceptions as their class name), every table's rows
afterwards, and the session's objects. Reported beside them, not compared: how many SQL
statements ran on the event loop's thread and how many in other threads (sqlite3 trace callbacks
and SQLAlchemy's before_cursor_execute both run in the executing thread).
"""
import asyncio
import inspect
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sqlalchemy  # noqa: E402
from sqlalchemy import create_engine, event  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import sqlm_models  # noqa: E402
from harness import TABLES, load_pair, norm, session_state  # noqa: E402
from sqlm_models import Base  # noqa: E402

SESSION_PARAMS = ("session", "db")


class Tracer:
    """Counts statements by the thread that ran them."""

    def __init__(self):
        self.loop_thread = None
        self.loop = 0
        self.worker = 0
        self.lock = threading.Lock()

    def hit(self, *_args, **_kwargs):
        with self.lock:
            if threading.get_ident() == self.loop_thread:
                self.loop += 1
            else:
                self.worker += 1


def sqlite3_shim(tracer):
    """The module's `sqlite3`, with connect() tracing the statements of each connection."""
    shim = types.ModuleType("sqlite3")
    shim.__dict__.update({k: v for k, v in sqlite3.__dict__.items() if not k.startswith("__")})

    def connect(*args, **kwargs):
        conn = sqlite3.connect(*args, **kwargs)
        conn.set_trace_callback(tracer.hit)
        return conn

    shim.connect = connect
    return shim


def coroutines(mod):
    return [k for k, v in mod.__dict__.items() if inspect.iscoroutinefunction(v) and v.__module__ == mod.__name__ and not k.startswith("_")]


def rows_of(path):
    conn = sqlite3.connect(path)
    try:
        return {t: [list(r) for r in conn.execute("SELECT * FROM %s ORDER BY 1" % t)] for t in TABLES}
    finally:
        conn.close()


def run_call(mod, fn, kwargs, strict):
    tmp = tempfile.mkdtemp(prefix="sqlm-to-thread-")
    path = os.path.join(tmp, "jobs.db")
    tracer = Tracer()
    connect_args = {} if strict else {"check_same_thread": False}
    engine = create_engine("sqlite:///" + path, future=True, connect_args=connect_args)
    try:
        Base.metadata.create_all(engine)
        with Session(engine, future=True) as seed:
            sqlm_models.seed(seed)
        event.listen(engine, "before_cursor_execute", tracer.hit)
        mod.DB_PATH = path
        if "sqlite3" in mod.__dict__:
            mod.sqlite3 = sqlite3_shim(tracer)
        params = inspect.signature(fn).parameters
        session = Session(engine, future=True) if any(p in params for p in SESSION_PARAMS) else None
        args = dict(kwargs)
        for p in SESSION_PARAMS:
            if p in params and session is not None:
                args[p] = session

        async def main():
            tracer.loop_thread = threading.get_ident()
            return await fn(**args)

        try:
            result = norm(asyncio.run(main()))
        except Exception as e:  # the exception's class is part of the behaviour
            result = {"error": type(e).__name__}
            if session is not None:
                try:
                    session.rollback()
                except Exception as e2:  # a session broken by a thread error: report, do not crash
                    result["rollback"] = type(e2).__name__
        state = None
        if session is not None:
            state = norm(session_state(session))
            try:
                session.close()
            except Exception:
                pass
        rows = rows_of(path)
        return {"result": result, "rows": rows, "session": state, "threads": {"loop": tracer.loop, "worker": tracer.worker}}
    finally:
        engine.dispose()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    req = json.load(sys.stdin)
    strict = bool(req.get("strict_sqlite"))
    out = {"sqlalchemy": sqlalchemy.__version__, "python": "%d.%d" % sys.version_info[:2], "results": [], "errors": []}
    for pair in req["pairs"]:
        mods = load_pair(pair, out["errors"])
        if mods is None:
            continue
        calls = getattr(mods["original"], "CALLS", {})
        for fn in coroutines(mods["original"]):
            other = getattr(mods["rewritten"], fn, None)
            if other is None or not inspect.iscoroutinefunction(other):
                out["errors"].append({"name": pair["name"], "side": "rewritten", "error": "no coroutine %s" % fn})
                continue
            for kwargs in calls.get(fn, [{}]):
                original = run_call(mods["original"], getattr(mods["original"], fn), kwargs, strict)
                rewritten = run_call(mods["rewritten"], other, kwargs, strict)
                out["results"].append({"name": pair["name"], "fn": fn, "kwargs": kwargs, "original": original, "rewritten": rewritten})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
