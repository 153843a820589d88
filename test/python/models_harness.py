"""Proves a generated model creates and reads the table its CREATE TABLE creates (the `python` tier).

Input (stdin, JSON): {"cases": [{"name": str, "models": source of the models file,
                                 "ddl": [CREATE TABLE statements], "tables": [{"table", "className"}],
                                 "dialect": "sqlite" | "postgresql" | "mysql"}]}
Output (stdout, JSON): {"sqlalchemy": version, "results": [{"name", "table", ...}], "errors": [{"name", "error"}]}

SQLite cases: the DDL runs on one in-memory database, the models module's metadata.create_all()
on another; for each generated table the harness reports both sides' columns (PRAGMA table_info:
name, declared type affinity, not null, default, primary key position), foreign keys and
single-column UNIQUE constraints, then inserts a sample row through the mapped class into the
DDL-created database (and the model-created one), reads it back through the class in a new
session, and reports the values written, read back, and the raw rows of both databases.
PostgreSQL cases with a "dsn" (a throwaway server, test/python/postgres.ts): the same on two fresh
databases of that server, with information_schema.columns and pg_constraint for the columns and
constraints. Every non-SQLite case also reports each table's CREATE TABLE compiled by SQLAlchemy
for its dialect (the caller reads it back and compares it with the original statement).

Run with Debian's /usr/bin/python3 (python3-sqlalchemy 1.4).
"""
import datetime
import decimal
import json
import uuid
import sqlite3
import sys
import types
import warnings

import sqlalchemy
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateTable


def affinity(declared):
    """SQLite's rules (datatype3.html, 3.1) for the affinity of a declared type."""
    t = (declared or "").upper()
    if "INT" in t:
        return "INTEGER"
    if "CHAR" in t or "CLOB" in t or "TEXT" in t:
        return "TEXT"
    if "BLOB" in t or not t:
        return "BLOB"
    if "REAL" in t or "FLOA" in t or "DOUB" in t:
        return "REAL"
    return "NUMERIC"


def columns_of(conn, table):
    rows = conn.execute('PRAGMA table_info("%s")' % table.replace('"', '""')).fetchall()
    pks = [r for r in rows if r[5]]
    out = []
    for cid, name, declared, notnull, dflt, pk in rows:
        # An INTEGER PRIMARY KEY is the rowid: it never holds NULL, whether NOT NULL is written or not.
        rowid = len(pks) == 1 and pk and (declared or "").upper() == "INTEGER"
        out.append({"name": name, "affinity": affinity(declared), "notnull": bool(notnull) or bool(rowid),
                    "default": dflt, "pk": pk})
    return out


def foreign_keys_of(conn, table):
    rows = conn.execute('PRAGMA foreign_key_list("%s")' % table.replace('"', '""')).fetchall()
    return sorted([[r[2], r[3], r[4], r[5], r[6]] for r in rows])


def uniques_of(conn, table):
    out = []
    for r in conn.execute('PRAGMA index_list("%s")' % table.replace('"', '""')).fetchall():
        if r[2] and r[3] == "u":
            cols = [c[2] for c in conn.execute('PRAGMA index_info("%s")' % r[1].replace('"', '""')).fetchall()]
            out.append(cols)
    return sorted(out)


def autoincrement_of(conn, table):
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()[0]
    return "AUTOINCREMENT" in sql.upper()


def raw(conn):
    """The sqlite3 connection under a SQLAlchemy connection."""
    fairy = conn.connection
    return getattr(fairy, "dbapi_connection", None) or fairy.connection


def sample_value(col, i):
    t = col.type
    name = type(t).__name__.upper()
    length = getattr(t, "length", None)
    if isinstance(t, sqlalchemy.Boolean):
        return True
    if isinstance(t, sqlalchemy.Integer):
        return 40 + i
    if isinstance(t, sqlalchemy.Numeric) and not isinstance(t, sqlalchemy.Float):
        scale = t.scale or 0
        return decimal.Decimal("12.5").quantize(decimal.Decimal(1).scaleb(-scale)) if scale else decimal.Decimal(12)
    if isinstance(t, (sqlalchemy.Float, sqlalchemy.REAL)) or name in ("REAL", "FLOAT"):
        return 1.5 + i
    if type(t).__name__ == "UUID":
        return uuid.UUID(int=0x1234 + i)
    if isinstance(t, sqlalchemy.DateTime):
        return datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc if t.timezone else None)
    if isinstance(t, sqlalchemy.Interval):
        return datetime.timedelta(hours=i)
    if isinstance(t, sqlalchemy.Date):
        return datetime.date(2024, 1, 2)
    if isinstance(t, sqlalchemy.Time):
        return datetime.time(3, 4, 5)
    if isinstance(t, sqlalchemy.LargeBinary):
        return b"\x00\x01" + bytes([i])
    if isinstance(t, sqlalchemy.JSON):
        return {"k": [1, i]}
    if isinstance(t, sqlalchemy.String):
        s = "v%d-%s" % (i, col.name)
        return s[:length] if length else s
    raise ValueError("no sample value for %s" % t)


def norm(v):
    if isinstance(v, datetime.datetime) and v.tzinfo is not None:
        return {"t": v.astimezone(datetime.timezone.utc).isoformat()}
    if isinstance(v, uuid.UUID):
        return {"u": str(v)}
    if isinstance(v, datetime.timedelta):
        return {"td": v.total_seconds()}
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
        return {"t": v.isoformat()}
    if isinstance(v, decimal.Decimal):
        return {"d": str(v)}
    if isinstance(v, (bytes, memoryview)):
        return {"b": bytes(v).hex()}
    if isinstance(v, float):
        return {"f": repr(v)}
    return v


def dynamic_default(dflt):
    return dflt is not None and ("(" in dflt or "CURRENT_" in dflt.upper())


def sqlite_case(case, module, out):
    ddl_engine = create_engine("sqlite://", future=True)
    model_engine = create_engine("sqlite://", future=True)
    with ddl_engine.begin() as c:
        for stmt in case["ddl"]:
            c.exec_driver_sql(stmt)
    classes = {t["className"]: getattr(module, t["className"]) for t in case["tables"]}
    metadata = next(iter(classes.values())).__table__.metadata
    metadata.create_all(model_engine)
    for spec in case["tables"]:
        cls = classes[spec["className"]]
        table = spec["table"]
        res = {"name": case["name"], "table": table}
        with ddl_engine.connect() as a, model_engine.connect() as b:
            ra, rb = raw(a), raw(b)
            for key, fn in (("columns", columns_of), ("foreignKeys", foreign_keys_of), ("unique", uniques_of), ("autoincrement", autoincrement_of)):
                res[key] = {"ddl": fn(ra, table), "model": fn(rb, table)}
        # A sample row through the class: every column but the generated key and server defaults.
        mapper = inspect(cls)
        values = sample_row(cls, mapper)
        res["written"] = {k: norm(v) for k, v in sorted(values.items())}
        # Defaults computed by the database (CURRENT_TIMESTAMP) differ by the clock: compared as set or not.
        dyn_cols = {x["name"] for x in res["columns"]["ddl"] if dynamic_default(x["default"])}
        dyn_attrs = {a.key for a in mapper.column_attrs if a.columns[0].name in dyn_cols}

        def select_all(c, table=table, dyn_cols=dyn_cols):
            result = c.exec_driver_sql('SELECT * FROM "%s"' % table.replace('"', '""'))
            cols = list(result.keys())
            return [{n: ("<dynamic>" if n in dyn_cols and v is not None else norm(v)) for n, v in zip(cols, r)} for r in result.fetchall()]

        for side, engine in (("ddl", ddl_engine), ("model", model_engine)):
            with engine.connect() as c:
                res["sql_" + side] = c.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).scalar()
            # A row a CHECK refuses must be refused on both sides.
            insert_and_read(cls, mapper, engine, values, dyn_attrs, res, side, select_all)
        out["results"].append(res)


def sample_row(cls, mapper):
    """Values for every column but a generated key and server-defaulted columns."""
    values = {}
    for i, attr in enumerate(mapper.column_attrs):
        col = attr.columns[0]
        if col.server_default is not None:
            continue
        if col.primary_key and col.autoincrement is not False and isinstance(col.type, sqlalchemy.Integer) and len(mapper.primary_key) == 1:
            continue
        values[attr.key] = sample_value(col, i)
    return values


def insert_and_read(cls, mapper, engine, values, dyn_attrs, res, side, select_all):
    try:
        with Session(engine, future=True) as s:
            s.add(cls(**values))
            s.commit()
        res["insert_" + side] = "ok"
    except sqlalchemy.exc.DBAPIError as e:
        res["insert_" + side] = "%s: %s" % (type(e.orig).__name__, str(e.orig).strip().split("\n")[0])
    with Session(engine, future=True) as s:
        obj = s.execute(select(cls)).scalars().one_or_none()
        res["read_" + side] = None if obj is None else {a.key: ("<dynamic>" if a.key in dyn_attrs and getattr(obj, a.key) is not None else norm(getattr(obj, a.key))) for a in mapper.column_attrs}
    with engine.connect() as c:
        res["raw_" + side] = select_all(c)


PG_COLUMNS = """SELECT column_name, data_type, udt_name, character_maximum_length, numeric_precision, numeric_scale,
  datetime_precision, is_nullable, column_default, is_identity
FROM information_schema.columns WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position"""
PG_CONSTRAINTS = """SELECT conname, pg_get_constraintdef(c.oid) FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = %s AND t.relname = %s ORDER BY conname"""
PG_INDEXES = """SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s ORDER BY indexname"""


def postgres_case(case, module, out):
    import psycopg2
    admin = psycopg2.connect(case["dsn"])
    admin.autocommit = True
    base = "sqlm_models_%s" % case["name"].replace("-", "_")
    names = {"ddl": base + "_ddl", "model": base + "_model"}
    dsn_of = {k: "%s dbname=%s" % (" ".join(p for p in case["dsn"].split() if not p.startswith("dbname=")), v) for k, v in names.items()}
    try:
        with admin.cursor() as cur:
            for n in names.values():
                cur.execute('DROP DATABASE IF EXISTS "%s"' % n)
                cur.execute('CREATE DATABASE "%s"' % n)
        engines = {k: create_engine("postgresql+psycopg2://", creator=(lambda d=d: psycopg2.connect(d)), future=True) for k, d in dsn_of.items()}
        classes = {t["className"]: getattr(module, t["className"]) for t in case["tables"]}
        metadata = next(iter(classes.values())).__table__.metadata
        schemas = sorted({c.__table__.schema for c in classes.values() if c.__table__.schema})
        for engine in engines.values():
            with engine.begin() as c:
                for sch in schemas:
                    c.exec_driver_sql('CREATE SCHEMA IF NOT EXISTS "%s"' % sch)
        with engines["ddl"].begin() as c:
            for stmt in case["ddl"]:
                c.exec_driver_sql(stmt)
        metadata.create_all(engines["model"])
        for spec in case["tables"]:
            cls = classes[spec["className"]]
            table = cls.__table__
            schema = table.schema or "public"
            res = {"name": case["name"], "table": spec["table"], "dialect": "postgresql"}
            for key, sql in (("columns", PG_COLUMNS), ("constraints", PG_CONSTRAINTS), ("indexes", PG_INDEXES)):
                res[key] = {}
                for side, engine in engines.items():
                    with engine.connect() as c:
                        res[key][side] = [list(r) for r in c.exec_driver_sql(sql, (schema, table.name)).fetchall()]
            mapper = inspect(cls)
            values = sample_row(cls, mapper)
            res["written"] = {k: norm(v) for k, v in sorted(values.items())}
            dyn_cols = {r[0] for r in res["columns"]["ddl"] if r[8] is not None and ("(" in r[8] or "CURRENT_" in r[8].upper())}
            dyn_attrs = {a.key for a in mapper.column_attrs if a.columns[0].name in dyn_cols}
            qualified = '"%s"."%s"' % (schema, table.name)

            def select_all(c, qualified=qualified, dyn_cols=dyn_cols):
                result = c.exec_driver_sql("SELECT * FROM %s" % qualified)
                cols = list(result.keys())
                return [{n: ("<dynamic>" if n in dyn_cols and v is not None else norm(v)) for n, v in zip(cols, r)} for r in result.fetchall()]

            for side, engine in engines.items():
                insert_and_read(cls, mapper, engine, values, dyn_attrs, res, side, select_all)
            out["results"].append(res)
        for engine in engines.values():
            engine.dispose()
    finally:
        with admin.cursor() as cur:
            for n in names.values():
                cur.execute('DROP DATABASE IF EXISTS "%s"' % n)
        admin.close()


def compiled_case(case, module, out):
    dialects = {
        "postgresql": sqlalchemy.dialects.postgresql.dialect,
        "mysql": sqlalchemy.dialects.mysql.dialect,
    }
    dialect = dialects[case["dialect"]]()
    for spec in case["tables"]:
        cls = getattr(module, spec["className"])
        sql = str(CreateTable(cls.__table__).compile(dialect=dialect)).strip()
        out["results"].append({"name": case["name"], "table": spec["table"], "compiled": sql})


def main():
    # SQLite has no DECIMAL: SQLAlchemy warns that it converts through float (the values are compared anyway).
    warnings.filterwarnings("ignore", message=".*does \\*not\\* support Decimal objects natively")
    import sqlalchemy.dialects.mysql  # noqa: F401
    import sqlalchemy.dialects.postgresql  # noqa: F401
    data = json.load(sys.stdin)
    out = {"sqlalchemy": sqlalchemy.__version__, "sqlite": sqlite3.sqlite_version, "results": [], "errors": []}
    for case in data["cases"]:
        try:
            module = types.ModuleType("sqlm_generated_" + case["name"].replace("-", "_"))
            exec(compile(case["models"], case["name"] + ".models.py", "exec"), module.__dict__)
            if case.get("dialect", "sqlite") == "sqlite":
                sqlite_case(case, module, out)
            else:
                compiled_case(case, module, out)
                if case["dialect"] == "postgresql" and case.get("dsn"):
                    postgres_case(case, module, out)
        except Exception as e:  # reported, compared by the caller
            out["errors"].append({"name": case["name"], "error": "%s: %s" % (type(e).__name__, e)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
