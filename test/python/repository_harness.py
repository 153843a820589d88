"""Runs raw-driver code and its repository rewrite side by side (the `python` tier,
test/python/repository.test.ts).

Input (stdin, JSON): {"cases": [{"name": str, "backend": "sqlite" | "postgresql",
                                 "original": source, "rewritten": source,
                                 "files": {"repositories/job_repository.py": source, ...}}],
                      "postgres": dsn or null}
Output (stdout, JSON): {"sqlalchemy": version, "results": [{"name", "fn", "kwargs", "equal",
                         "original": {"result", "tables"}, "rewritten": {"result", "tables"}}],
                        "errors": [{"name", "side", "error"}]}

Each case's repository files are written to a fresh directory put first on sys.path, so the
rewritten module imports them as it would in the workspace (`from repositories.job_repository
import JobRepository`). Every public function of the original module is called, in both modules,
once per entry of the module's optional `CALLS = {"fn": [{kwargs}, ...]}` (once without arguments
otherwise), each on a freshly created and seeded database (sqlm_repo_models.create_and_seed): a new
SQLite file, or the PostgreSQL database of the run with its tables recreated. sqlm_repo_db points
`get_db()` (sqlite3 / psycopg2) and `get_session()` (SQLAlchemy, future=True) at it.

Compared: `equal` is the two return values compared with Python's `==` (a SQLAlchemy Row equals
the tuple with the same values, a RowMapping equals the dict with the same items, lists compare
item by item; exceptions are compared by class name), and the tables' rows afterwards, read
through a new connection (so uncommitted writes do not show). `result` is also reported in a
normalised JSON form (rows as lists, mappings as sorted pairs) for the failure message.
"""
import collections.abc
import json
import os
import shutil
import sys
import tempfile
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sqlalchemy  # noqa: E402

import sqlm_repo_db  # noqa: E402
import sqlm_repo_models  # noqa: E402


class Raised:
    """An exception a call raised, equal to another of the same class."""

    def __init__(self, e):
        self.name = type(e).__name__

    def __eq__(self, other):
        return isinstance(other, Raised) and other.name == self.name


def norm(v, depth=0):
    if depth > 20:
        return {"type": "deep"}
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, Raised):
        return {"error": v.name}
    if isinstance(v, collections.abc.Mapping):
        return {"mapping": sorted([[str(k), norm(x, depth + 1)] for k, x in v.items()], key=repr)}
    if isinstance(v, (tuple, sqlalchemy.engine.Row)):
        return {"row": [norm(x, depth + 1) for x in v]}
    if isinstance(v, list):
        return {"list": [norm(x, depth + 1) for x in v]}
    return {"type": type(v).__name__, "repr": repr(v)[:200]}


def load(name, source):
    mod = types.ModuleType(name)
    exec(compile(source, name, "exec"), mod.__dict__)
    return mod


def functions(mod):
    return [k for k, v in mod.__dict__.items() if isinstance(v, types.FunctionType) and v.__module__ == mod.__name__ and not k.startswith("_")]


def forget_modules(roots):
    for key in list(sys.modules):
        if key.split(".")[0] in roots:
            del sys.modules[key]


def fresh_database(backend, pg_dsn, tmp):
    if backend == "sqlite":
        path = os.path.join(tmp, "db-%d.sqlite" % len(os.listdir(tmp)))
        engine = sqlm_repo_db.use_sqlite(path)
    else:
        engine = sqlm_repo_db.use_postgres(pg_dsn)
    sqlm_repo_models.create_and_seed(engine)


def tables():
    out = {}
    conn = sqlm_repo_db.connect()
    try:
        cur = conn.cursor()
        for t in sqlm_repo_models.TABLES:
            cur.execute("SELECT * FROM %s ORDER BY 1" % t)
            out[t] = [list(r) for r in cur.fetchall()]
    finally:
        conn.close()
    return out


def call(fn, kwargs, backend, pg_dsn, tmp):
    fresh_database(backend, pg_dsn, tmp)
    try:
        value = fn(**kwargs)
    except Exception as e:  # the exception's class is part of the behaviour
        value = Raised(e)
    state = tables()
    sqlm_repo_db.close()
    return value, state


def run_case(case, pg_dsn, out):
    work = tempfile.mkdtemp(prefix="sqlm-repo-")
    roots = set()
    try:
        for rel, text in case.get("files", {}).items():
            path = os.path.join(work, "ws", *rel.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
            roots.add(rel.split("/")[0].replace(".py", ""))
        sys.path.insert(0, os.path.join(work, "ws"))
        forget_modules(roots)
        mods = {}
        for side in ("original", "rewritten"):
            try:
                mods[side] = load("%s_%s" % (case["name"].replace("-", "_"), side), case[side])
            except Exception as e:
                out["errors"].append({"name": case["name"], "side": side, "error": "%s: %s" % (type(e).__name__, e)})
        if len(mods) != 2:
            return
        calls = getattr(mods["original"], "CALLS", {})
        for fn in functions(mods["original"]):
            other = getattr(mods["rewritten"], fn, None)
            if other is None:
                out["errors"].append({"name": case["name"], "side": "rewritten", "error": "no function %s" % fn})
                continue
            for kwargs in calls.get(fn, [{}]):
                a, ta = call(getattr(mods["original"], fn), kwargs, case["backend"], pg_dsn, work)
                b, tb = call(other, kwargs, case["backend"], pg_dsn, work)
                out["results"].append({
                    "name": case["name"], "fn": fn, "kwargs": kwargs, "equal": bool(a == b),
                    "original": {"result": norm(a), "tables": ta},
                    "rewritten": {"result": norm(b), "tables": tb},
                })
    finally:
        sys.path.remove(os.path.join(work, "ws")) if os.path.join(work, "ws") in sys.path else None
        forget_modules(roots)
        shutil.rmtree(work, ignore_errors=True)


def main():
    req = json.load(sys.stdin)
    out = {"sqlalchemy": sqlalchemy.__version__, "results": [], "errors": []}
    for case in req["cases"]:
        if case["backend"] == "postgresql" and not req.get("postgres"):
            out["errors"].append({"name": case["name"], "side": "both", "error": "no PostgreSQL server for a postgres case"})
            continue
        run_case(case, req.get("postgres"), out)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
