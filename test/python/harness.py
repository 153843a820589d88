"""Runs original and rewritten SQLAlchemy code side by side (the `python` test tier).

Input (stdin, JSON): {"pairs": [{"name": str, "original": source, "rewritten": source}]}
Output (stdout, JSON): {"sqlalchemy": version, "results": [{"name", "fn", "kwargs", "original", "rewritten"}],
                        "errors": [{"name", "side", "error"}]}

Each pair is two module sources whose functions take a Session first. Every function defined in
the original module is called, in both modules, once per entry of the module's optional
`CALLS = {"fn": [{kwargs}, ...]}` (once without arguments otherwise), each call on a fresh
in-memory SQLite database seeded by sqlm_models.seed, with every row preloaded into the session
(so bulk update/delete synchronisation shows). What is compared: the returned value (entities as
[class, primary key], rows as lists, exceptions as their class name), the tables' rows after the
call, and the state of the objects in the session.

Modules that define a Flask-SQLAlchemy `db` and `app` (Model.query fixtures) run inside the app
context instead: their functions take no session, and their `_seed()` fills the database.

Run with Debian's /usr/bin/python3 (python3-sqlalchemy 1.4, python3-flask-sqlalchemy 3.0); sessions
are created with future=True.
"""
import json
import os
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sqlalchemy  # noqa: E402
from sqlalchemy import create_engine, inspect, select  # noqa: E402
from sqlalchemy.engine import Row  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import sqlm_models  # noqa: E402
from sqlm_models import Base, Job, Run, User  # noqa: E402

TABLES = ["users", "jobs", "job_runs"]


def norm(v, depth=0):
    if depth > 20:
        return {"type": "deep"}
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    insp = inspect(v, raiseerr=False)
    if insp is not None and getattr(insp, "mapper", None) is not None and hasattr(insp, "identity"):
        return [type(v).__name__, list(insp.identity or [])]
    if isinstance(v, (Row, tuple)):
        return {"row": [norm(x, depth + 1) for x in v]}
    if isinstance(v, list):
        return {"list": [norm(x, depth + 1) for x in v]}
    if isinstance(v, dict):
        return {"dict": sorted([[norm(k, depth + 1), norm(x, depth + 1)] for k, x in v.items()], key=repr)}
    if isinstance(v, (set, frozenset)):
        return {"set": sorted([norm(x, depth + 1) for x in v], key=repr)}
    return {"type": type(v).__name__}


def session_state(session):
    out = []
    for obj in list(session.identity_map.values()):
        insp = inspect(obj)
        cols = {c.key: obj.__dict__[c.key] for c in insp.mapper.column_attrs if c.key in obj.__dict__}
        out.append([type(obj).__name__, list(insp.identity or []), sorted(cols.items())])
    return sorted(out, key=repr)


def load(name, source):
    code = compile(source, name, "exec")
    mod = types.ModuleType(name.replace(".", "_").replace("-", "_"))
    exec(code, mod.__dict__)
    return mod


def load_pair(pair, errors):
    """Both modules of a pair ({"original": mod, "rewritten": mod}), or None with the errors recorded."""
    mods = {}
    for side in ("original", "rewritten"):
        try:
            mods[side] = load("%s.%s" % (pair["name"], side), pair[side])
        except Exception as e:
            errors.append({"name": pair["name"], "side": side, "error": "%s: %s" % (type(e).__name__, e)})
    return mods if len(mods) == 2 else None


def functions(mod):
    return [k for k, v in mod.__dict__.items() if isinstance(v, types.FunctionType) and v.__module__ == mod.__name__ and not k.startswith("_")]


def run_call(fn, kwargs):
    engine = create_engine("sqlite://", future=True)
    Base.metadata.create_all(engine)
    with Session(engine, future=True) as session:
        sqlm_models.seed(session)
        # Strong references: the identity map is weak, and these objects show synchronisation.
        preloaded = [obj for cls in (User, Job, Run) for obj in session.execute(select(cls)).scalars().all()]
        try:
            result = norm(fn(session, **kwargs))
        except Exception as e:  # the exception's class is part of the behaviour
            result = {"error": type(e).__name__}
            session.rollback()
        rows = {t: [list(r) for r in session.connection().exec_driver_sql("SELECT * FROM %s ORDER BY 1" % t)] for t in TABLES}
        state = session_state(session)
        del preloaded
    engine.dispose()
    return {"result": result, "rows": rows, "session": norm(state)}


def flask_db(mod):
    """The module's Flask-SQLAlchemy extension and app, when it defines them (`db`, `app`)."""
    db, app = mod.__dict__.get("db"), mod.__dict__.get("app")
    if db is None or app is None or type(db).__name__ != "SQLAlchemy":
        return None
    return db, app


def run_flask_call(mod, fn, kwargs):
    """Flask-SQLAlchemy modules: functions take no session; the module's `_seed()` fills the database."""
    db, app = flask_db(mod)
    with app.app_context():
        db.drop_all()
        db.create_all()
        mod._seed()
        preloaded = [obj for m in db.Model.registry.mappers for obj in db.session.execute(select(m.class_)).scalars().all()]
        try:
            result = norm(fn(**kwargs))
        except Exception as e:
            result = {"error": type(e).__name__}
            db.session.rollback()
        tables = sorted(db.metadata.tables)
        rows = {t: [list(r) for r in db.session.connection().exec_driver_sql("SELECT * FROM %s ORDER BY 1" % t)] for t in tables}
        state = session_state(db.session)
        del preloaded
        db.session.remove()
    return {"result": result, "rows": rows, "session": norm(state)}


def main():
    req = json.load(sys.stdin)
    out = {"sqlalchemy": sqlalchemy.__version__, "results": [], "errors": []}
    for pair in req["pairs"]:
        mods = load_pair(pair, out["errors"])
        if mods is None:
            continue
        calls = getattr(mods["original"], "CALLS", {})
        for fn in functions(mods["original"]):
            other = getattr(mods["rewritten"], fn, None)
            if other is None:
                out["errors"].append({"name": pair["name"], "side": "rewritten", "error": "no function %s" % fn})
                continue
            for kwargs in calls.get(fn, [{}]):
                if flask_db(mods["original"]):
                    original = run_flask_call(mods["original"], getattr(mods["original"], fn), kwargs)
                    rewritten = run_flask_call(mods["rewritten"], other, kwargs)
                else:
                    original = run_call(getattr(mods["original"], fn), kwargs)
                    rewritten = run_call(other, kwargs)
                out["results"].append({"name": pair["name"], "fn": fn, "kwargs": kwargs, "original": original, "rewritten": rewritten})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
