"""Runs the realistic corpus's `scheduler` and `webapp` packages (test/fixtures/corpus/sqlalchemy-legacy)
as written and as rewritten to SQLAlchemy 2.0 style, side by side (the `python` test tier, corpus.test.ts).

Input (stdin, JSON): {"original": dir, "rewritten": dir}: each dir holds `scheduler/` and `webapp/` packages.
Output (stdout, JSON): {"sqlalchemy": version, "results": [{"target", "kwargs", "original", "rewritten"}],
                        "errors": [{"side", "error"}]}

The package runs with its own engine and sessions (db.py: `sessionmaker`, `scoped_session`,
`get_session()`), pointed at an in-memory SQLite database (SCHEDULER_DB_URL=sqlite://; the
single-connection pool makes every session of a package see the same database). Each call gets a
fresh database seeded by `seed()` below, with every row preloaded into the scoped session (so
bulk update/delete synchronisation shows). Functions whose first parameter is `session` or `db`
get the scoped session; methods are called on an instance built with it. What is compared: the
returned value (entities as [class, primary key], rows as lists, enums by value, times after the
seed's clock as "NOW", floats rounded; exceptions as their class name), the tables' rows after the
call, and the state of the objects in the scoped session.

The `webapp` package (Flask + Flask-SQLAlchemy + Flask-Login) runs in one Flask app per side
(`create_app(WebConfig)`, in-memory SQLite). Each call of WEB_CALLS gets a fresh database seeded by
`seed_web()`, every row preloaded into `db.session`, and runs inside `app.test_request_context()` with
the call's path, method, query string and form; `"login": id` logs that user in with
`flask_login.login_user` first, so `@login_required` views are called as they are (the admin
blueprint's `before_request` check is not run: the view is called directly). The corpus has no
templates: `render_template` in the view modules is replaced by one that returns the template's
name and context, so what a view hands its template is compared. Password hashing is replaced by a
deterministic stand-in (a salted hash would differ between the sides). Compared as above, plus
Flask responses (status, Location, JSON body), Flask-SQLAlchemy pages (page, per_page, total,
items), werkzeug aborts (NotFound, Forbidden) as exceptions, and the flashed messages.

The calls are listed here, not in the corpus: the corpus stays as an application wrote it.
"""
import datetime as dt
import enum
import importlib
import importlib.util
import inspect as pyinspect
import json
import os
import sys
import types

sys.dont_write_bytecode = True
os.environ["SCHEDULER_DB_URL"] = "sqlite://"

import flask  # noqa: E402
import flask_login  # noqa: E402
import sqlalchemy  # noqa: E402
from flask_sqlalchemy.pagination import Pagination  # noqa: E402
from sqlalchemy import inspect  # noqa: E402
from sqlalchemy.engine import Row  # noqa: E402

MODULES = ["db", "models", "crud", "executions", "jobs", "maintenance", "reports", "repository", "workers"]
#: The seed's clock: seeded times are before it, times a call sets (`datetime.utcnow()`) after it.
T = dt.datetime.utcnow().replace(microsecond=0)


def ago(days=0, minutes=0):
    return T - dt.timedelta(days=days, minutes=minutes)


# target → calls (keyword arguments). {"$days_ago": n} is a datetime, {"$state": v} a JobState.
CALLS = {
    "crud:get_owner": [{"owner_id": 1}, {"owner_id": 99}],
    "crud:get_owner_by_email": [{"email": "bob@example.com"}, {"email": "nobody@example.com"}],
    "crud:get_owners": [{}, {"skip": 1, "limit": 2}],
    "crud:get_jobs": [{}, {"skip": 2, "limit": 3}],
    "crud:get_owner_jobs": [{"owner_id": 1}, {"owner_id": 2, "state": "failed"}],
    "crud:get_job": [{"job_id": 3}, {"job_id": 42}],
    "crud:update_job_priority": [{"job_id": 2, "priority": 9}],
    "crud:delete_owner": [{"owner_id": 2}, {"owner_id": 99}],
    "crud:get_executions": [{"job_id": 1}, {"job_id": 3, "limit": 2}],
    "crud:count_jobs": [{}, {"owner_id": 2}],
    "crud:get_tags": [{}],
    "crud:tag_job": [{"job_id": 4, "tag_name": "etl"}, {"job_id": 4, "tag_name": "fresh"}, {"job_id": 99, "tag_name": "x"}],
    "executions:enqueue": [{"job_id": 3}],
    "executions:claim_next": [{"worker_id": 1, "batch": 2}],
    "executions:finish": [{"execution_id": 9, "exit_code": 0}, {"execution_id": 9, "exit_code": 1}, {"execution_id": 10, "exit_code": 2}],
    "executions:running_on": [{"worker_id": 1}, {"worker_id": 3}],
    "executions:timed_out": [{}],
    "executions:cancel": [{"execution_ids": [8, 9, 12]}],
    "executions:requeue_orphans": [{"dead_worker_ids": [3]}],
    "executions:history": [{"job_id": 1}, {"job_id": 1, "page": 2, "per_page": 2}],
    "executions:execution_detail": [{"execution_id": 1}, {"execution_id": 99}],
    "executions:stream_logs": [{"job_id": 1}],
    "executions:latest_state": [{"job_id": 3}, {"job_id": 4}],
    "executions:busy_workers": [{}],
    "jobs:get_job": [{"job_id": 1}, {"job_id": 99}],
    "jobs:get_job_by_name": [{"owner_id": 1, "name": "backup"}, {"owner_id": 1, "name": "nope"}],
    "jobs:list_jobs": [{}, {"owner_id": 1}, {"state": "failed"}, {"tag": "etl", "enabled_only": False}],
    "jobs:create_job": [
        {"owner_name": "ada", "name": "fresh", "command": "true", "tags": ["etl", "new"], "cron": "* * * * *"},
        {"owner_name": "bob", "name": "fresh", "command": "true"},
        {"owner_name": "dan", "name": "first", "command": "true", "priority": 2},
    ],
    "jobs:update_job": [{"job_id": 1, "priority": 7}, {"job_id": 99, "priority": 1}],
    "jobs:set_enabled": [{"job_ids": [1, 2], "enabled": False}],
    "jobs:delete_job": [{"job_id": 3, "actor": "ada"}, {"job_id": 99, "actor": "ada"}],
    "jobs:job_exists": [{"owner_id": 1, "name": "backup"}, {"owner_id": 1, "name": "nope"}],
    "jobs:next_priority": [{"owner_id": 2}, {"owner_id": 42}],
    "jobs:last_execution": [{"job_id": 3}, {"job_id": 4}],
    "jobs:clone_job": [{"job_id": 1, "new_name": "backup-2"}],
    "jobs:job_names": [{"owner_id": 1}],
    "jobs:retry_failed": [{"owner_id": 2}],
    "maintenance:prune_executions": [{"keep_days": 1, "keep_per_job": 1}],
    "maintenance:vacuum_audit_log": [{}],
    "maintenance:fix_stuck_jobs": [{}],
    "maintenance:orphan_schedules": [{}],
    "maintenance:delete_orphan_schedules": [{}],
    "maintenance:due_schedules": [{}],
    "maintenance:pause_all": [{"owner_id": 1}],
    "maintenance:reset_dead_workers": [{}],
    "maintenance:dedupe_tags": [{}],
    "maintenance:count_all": [{}],
    "reports:state_counts": [{}],
    "reports:failures_by_owner": [{"since": {"$days_ago": 30}}],
    "reports:success_rate_per_job": [{"min_runs": 1}],
    "reports:average_duration": [{"job_id": 1}, {"job_id": 4}],
    "reports:slowest_executions": [{"limit": 3}],
    "reports:jobs_never_run": [{}],
    "reports:jobs_without_runs_subquery": [{}],
    "reports:latest_execution_per_job": [{}],
    "reports:retries_vs_first_attempts": [{}],
    "reports:daily_volume": [{}],
    "reports:tag_usage": [{}],
    "reports:worker_load": [{}],
    "reports:owners_over_quota": [{}],
    "reports:total_runtime_hours": [{"owner_id": 1}, {"owner_id": 3}],
    "reports:activity_feed": [{"limit": 10}],
    "reports:failing_streaks": [{"threshold": 2}],
    "reports:distinct_commands": [{}],
    "reports:weekly_summary": [{}],
    "repository:JobRepository.get": [{"pk": 1}, {"pk": 99}],
    "repository:JobRepository.all": [{}],
    "repository:JobRepository.count": [{}],
    "repository:JobRepository.delete_by_id": [{"pk": 8}],
    "repository:JobRepository.find_by_state": [{"state": {"$state": "failed"}}, {"state": {"$state": "pending"}, "limit": 1}],
    "repository:JobRepository.find_enabled": [{}],
    "repository:JobRepository.find_with_owner": [{"job_id": 1}, {"job_id": 8}],
    "repository:JobRepository.names_by_owner": [{"owner_name": "ada"}],
    "repository:JobRepository.mark": [{"job_ids": [1, 4], "state": {"$state": "failed"}}],
    "repository:JobRepository.pending_count": [{}],
    "repository:JobRepository.schedule_for": [{"job_id": 1}, {"job_id": 2}],
    "repository:JobRepository.highest_priority": [{}],
    "repository:JobRepository.search": [{"text": "e"}, {"text": "e", "owner_id": 2}],
    "repository:ExecutionRepository.get_stale_executions": [{"older_than": {"$days_ago": 0}}],
    "repository:ExecutionRepository.for_job": [{"job_id": 1}, {"job_id": 1, "limit": 1}],
    "repository:ExecutionRepository.last_exit_code": [{"job_id": 3}, {"job_id": 4}],
    "repository:ExecutionRepository.delete_for_job": [{"job_id": 1}],
    "repository:ExecutionRepository.first_run": [{"job_id": 3}],
    "workers:WorkerRegistry.register": [{"hostname": "w1", "capacity": 8}, {"hostname": "w9"}],
    "workers:WorkerRegistry.heartbeat": [{"worker_id": 3}, {"worker_id": 99}],
    "workers:WorkerRegistry.alive": [{}],
    "workers:WorkerRegistry.get": [{"worker_id": 2}],
    "workers:WorkerRegistry.by_hostname": [{"hostname": "w2"}, {"hostname": "nope"}],
    "workers:WorkerRegistry.mark_dead": [{}],
    "workers:WorkerRegistry.free_slots": [{}],
    "workers:WorkerRegistry.least_loaded": [{}],
    "workers:WorkerRegistry.forget": [{"hostname": "w3"}, {"hostname": "nope"}],
}


def seed(pkg, session):
    m = pkg.models
    S = m.JobState
    session.add_all([
        m.Owner(id=1, name="ada", email="ada@example.com", quota=100),
        m.Owner(id=2, name="bob", email="bob@example.com", quota=3),
        m.Owner(id=3, name="cy", email=None, quota=100),
    ])
    tags = {i: m.Tag(id=i, name=n) for i, n in [(1, "nightly"), (2, "etl"), (3, "Nightly"), (4, "unused")]}
    session.add_all(tags.values())
    jobs = [
        # id, name, command, state, priority, max_retries, timeout, enabled, owner, created (days ago)
        (1, "backup", "pg_dump", S.success, 3, 3, 600, True, 1, 30),
        (2, "build", "make", S.running, 1, 3, 60, True, 1, 20),
        (3, "deploy", "deploy.sh", S.failed, 2, 2, None, True, 2, 10),
        (4, "digest", "digest", S.pending, 0, 3, None, False, 2, 3),
        (5, "export", "export", S.failed, 5, 1, 300, True, 2, 2),
        (6, "index", "reindex", S.running, 2, 3, None, True, 3, 40),
        (7, "janitor", "make", S.queued, 1, 3, None, True, 1, 1),
        (8, "report", "report", S.pending, 4, 3, None, True, None, 5),
    ]
    for i, name, cmd, state, prio, retries, timeout, enabled, owner, days in jobs:
        session.add(m.Job(id=i, name=name, command=cmd, state=state, priority=prio, max_retries=retries, timeout_seconds=timeout,
                          enabled=enabled, owner_id=owner, created_at=ago(days), updated_at=ago(days)))
    session.flush()
    for job_id, tag_id in [(1, 1), (1, 2), (2, 2), (5, 3), (7, 1)]:
        session.execute(m.job_tags.insert().values(job_id=job_id, tag_id=tag_id))
    session.add_all([
        m.Worker(id=1, hostname="w1", capacity=4, alive=True, last_heartbeat=ago(minutes=1)),
        m.Worker(id=2, hostname="w2", capacity=2, alive=True, last_heartbeat=ago(minutes=10)),
        m.Worker(id=3, hostname="w3", capacity=4, alive=False, last_heartbeat=ago(days=1)),
    ])
    executions = [
        # id, job, worker, state, attempt, exit, duration, log, queued (days ago), started/finished (minutes after queued)
        (1, 1, 1, S.success, 1, 0, 120.0, "ok", 3, (1, 3)),
        (2, 1, 1, S.failed, 1, 1, 30.0, "disk full", 2, (1, 2)),
        (3, 1, 2, S.success, 2, 0, 95.0, None, 2, (2, 4)),
        (4, 3, 1, S.failed, 1, 1, 12.5, "boom", 9, (1, 2)),
        (5, 3, 2, S.failed, 2, 2, 13.0, "boom again", 8, (1, 2)),
        (6, 3, 1, S.success, 3, 0, 15.0, None, 7, (1, 2)),
        (7, 5, 3, S.failed, 1, 1, 40.0, "timeout", 1, (1, 2)),
        (8, 6, 3, S.running, 1, None, None, None, 0, (0, None)),
        (9, 2, 1, S.running, 1, None, None, None, 0, (0, None)),
        (10, 2, 2, S.running, 2, None, None, None, 0, (0, None)),
        (11, 7, None, S.queued, 1, None, None, None, 0, (None, None)),
        (12, 5, None, S.queued, 2, None, None, None, 0, (None, None)),
        (13, 8, 1, S.success, 1, 0, 300.0, "done", 40, (1, 6)),
    ]
    for i, job, worker, state, attempt, code, duration, log, days, (start, end) in executions:
        queued = ago(days, minutes=30)
        session.add(m.Execution(
            id=i, job_id=job, worker_id=worker, state=state, attempt=attempt, exit_code=code, duration=duration, log=log,
            queued_at=queued,
            started_at=None if start is None else queued + dt.timedelta(minutes=start),
            finished_at=None if end is None else queued + dt.timedelta(minutes=end),
        ))
    session.add_all([
        m.Schedule(id=1, job_id=1, cron="0 * * * *", next_run_at=ago(minutes=60), paused=False),
        m.Schedule(id=2, job_id=3, cron="0 0 * * *", next_run_at=T + dt.timedelta(hours=1), paused=False),
        m.Schedule(id=3, job_id=99, cron="*/5 * * * *", next_run_at=ago(minutes=120), paused=False),
        m.Schedule(id=4, job_id=7, cron="0 3 * * *", next_run_at=ago(minutes=5), paused=True),
    ])
    session.add_all([
        m.AuditLog(id=1, actor="ada", action="create", job_id=1, at=ago(400)),
        m.AuditLog(id=2, actor="bob", action="create", job_id=3, at=ago(10)),
        m.AuditLog(id=3, actor="ada", action="delete", job_id=None, at=ago(500)),
    ])


def norm(v, depth=0):
    if depth > 20:
        return {"type": "deep"}
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return round(v)
    if isinstance(v, enum.Enum):
        return {"enum": v.value}
    if isinstance(v, dt.datetime):
        return "NOW" if v > T else v.isoformat()
    if isinstance(v, flask.Response):
        body = v.get_json() if v.is_json else None
        return {"response": [v.status_code, v.headers.get("Location"), norm(body, depth + 1)]}
    if isinstance(v, Pagination):
        return {"page": [v.page, v.per_page, v.total, norm(list(v.items), depth + 1)]}
    insp = inspect(v, raiseerr=False)
    if insp is not None and getattr(insp, "mapper", None) is not None and hasattr(insp, "identity"):
        return [type(v).__name__, list(insp.identity or [])]
    if isinstance(v, (Row, tuple)):
        return {"row": [norm(x, depth + 1) for x in v]}
    if isinstance(v, (list, types.GeneratorType)):
        return {"list": [norm(x, depth + 1) for x in v]}
    if isinstance(v, dict):
        return {"dict": sorted([[norm(k, depth + 1), norm(x, depth + 1)] for k, x in v.items()], key=repr)}
    return {"type": type(v).__name__}


def session_state(session):
    out = []
    for obj in list(session.identity_map.values()):
        insp = inspect(obj)
        cols = {c.key: norm(obj.__dict__[c.key]) for c in insp.mapper.column_attrs if c.key in obj.__dict__}
        out.append([type(obj).__name__, list(insp.identity or []), sorted(cols.items())])
    return sorted(out, key=repr)


def load_package(root, alias):
    """The `scheduler` package under `root`, imported as `alias` (its relative imports follow)."""
    pkg_dir = os.path.join(root, "scheduler")
    spec = importlib.util.spec_from_file_location(alias, os.path.join(pkg_dir, "__init__.py"), submodule_search_locations=[pkg_dir])
    pkg = importlib.util.module_from_spec(spec)
    sys.modules[alias] = pkg
    spec.loader.exec_module(pkg)
    for name in MODULES:
        setattr(pkg, name, importlib.import_module("%s.%s" % (alias, name)))
    return pkg


def decode(pkg, v):
    if isinstance(v, dict) and "$days_ago" in v:
        return ago(v["$days_ago"])
    if isinstance(v, dict) and "$state" in v:
        return pkg.models.JobState(v["$state"])
    if isinstance(v, list):
        return [decode(pkg, x) for x in v]
    return v


def resolve(pkg, target, session):
    module, qual = target.split(":")
    mod = getattr(pkg, module)
    if "." in qual:
        cls, meth = qual.split(".")
        return getattr(getattr(mod, cls)(session), meth), {}
    fn = getattr(mod, qual)
    params = list(pyinspect.signature(fn).parameters)
    return fn, ({params[0]: session} if params and params[0] in ("session", "db") else {})


def run_call(pkg, target, kwargs):
    db = pkg.db
    db.Session.remove()
    pkg.models.Base.metadata.drop_all(db.engine)
    pkg.models.Base.metadata.create_all(db.engine)
    s = db.SessionLocal()
    seed(pkg, s)
    s.commit()
    s.close()
    session = db.Session()
    classes = [mp.class_ for mp in pkg.models.Base.registry.mappers]
    # Strong references: the identity map is weak, and these objects show synchronisation.
    preloaded = [obj for cls in classes for obj in session.query(cls).all()]
    fn, first = resolve(pkg, target, session)
    try:
        result = norm(fn(**first, **{k: decode(pkg, v) for k, v in kwargs.items()}))
    except Exception as e:  # the exception's class is part of the behaviour
        result = {"error": type(e).__name__}
        session.rollback()
    try:
        session.flush()
        flushed = None
    except Exception as e:
        flushed = {"error": type(e).__name__}
        session.rollback()
    rows = {}
    for table in pkg.models.Base.metadata.sorted_tables:
        order = list(table.primary_key.columns) or list(table.columns)
        rows[table.name] = [[norm(x) for x in r] for r in session.execute(table.select().order_by(*order))]
    state = session_state(session)
    del preloaded
    db.Session.remove()
    return {"result": result, "flush": flushed, "rows": rows, "session": state}


# --- the webapp half ------------------------------------------------------------------------------

WEB_MODULES = ["extensions", "models", "services", "api", "views.admin", "views.posts", "views.users"]


class WebConfig:
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    SECRET_KEY = "corpus-harness"
    TESTING = True
    POSTS_PER_PAGE = 2


# target → calls: "path" (default "/"), "method", "args" (query string), "form", "login" (a user id),
# "kwargs" (the view's or helper's arguments; {"$post": id} is that Post, loaded in the call's session).
WEB_CALLS = {
    "webapp.extensions:load_user": [{"kwargs": {"user_id": "2"}}, {"kwargs": {"user_id": "99"}}],
    "webapp.api:get_post": [{"kwargs": {"post_id": 1}}, {"kwargs": {"post_id": 3}}, {"kwargs": {"post_id": 99}}],
    "webapp.api:post_comments": [{"kwargs": {"post_id": 1}}, {"kwargs": {"post_id": 6}}, {"kwargs": {"post_id": 99}}],
    "webapp.api:get_user": [{"kwargs": {"username": "bob"}}, {"kwargs": {"username": "nobody"}}],
    "webapp.api:list_teams": [{}],
    "webapp.api:list_tags": [{}],
    "webapp.api:delete_my_drafts": [{"method": "DELETE", "login": 2}, {"method": "DELETE", "login": 5}],
    "webapp.api:stats": [{}],
    "webapp.services:related_posts": [{"kwargs": {"post": {"$post": 1}}}, {"kwargs": {"post": {"$post": 6}, "limit": 1}}, {"kwargs": {"post": {"$post": 7}}}],
    "webapp.services:team_admins": [{"kwargs": {"team_id": 1}}, {"kwargs": {"team_id": 2}}, {"kwargs": {"team_id": 3}}],
    "webapp.services:commenters_on": [{"kwargs": {"author_id": 1}}, {"kwargs": {"author_id": 2}}],
    "webapp.services:stale_drafts": [{}, {"kwargs": {"days": 1}}],
    "webapp.services:user_search": [{"kwargs": {"term": "example.com"}}, {"kwargs": {"term": "bo"}}, {"kwargs": {"term": "zzz"}}],
    "webapp.services:latest_comment_per_post": [{"kwargs": {"post_ids": [1, 2, 6]}}, {"kwargs": {"post_ids": [99]}}],
    "webapp.services:tag_cloud": [{}],
    "webapp.services:first_post_of": [{"kwargs": {"user_id": 1}}, {"kwargs": {"user_id": 99}}],
    "webapp.services:team_by_slug_or_none": [{"kwargs": {"slug": "core"}}, {"kwargs": {"slug": "nope"}}],
    "webapp.services:post_ids_with_tag": [{"kwargs": {"name": "python"}}, {"kwargs": {"name": "unused"}}],
    "webapp.views.admin:dashboard": [{"path": "/admin/", "login": 1}],
    "webapp.views.admin:approve_comments": [
        {"path": "/admin/comments/approve", "method": "POST", "form": {"comment_id": ["3"]}, "login": 1},
        {"path": "/admin/comments/approve", "method": "POST", "form": {"comment_id": ["3", "7", "99"]}, "login": 1},
        {"path": "/admin/comments/approve", "method": "POST", "form": {}, "login": 1},
    ],
    "webapp.views.admin:promote": [{"method": "POST", "login": 1, "kwargs": {"user_id": 2}}, {"method": "POST", "login": 1, "kwargs": {"user_id": 99}}],
    "webapp.views.admin:cleanup_tags": [{"path": "/admin/tags/cleanup", "method": "POST", "login": 1}],
    "webapp.views.admin:teams": [{"path": "/admin/teams", "login": 1}],
    "webapp.views.admin:delete_team": [
        {"method": "POST", "login": 1, "kwargs": {"team_id": 1}},
        {"method": "POST", "login": 1, "kwargs": {"team_id": 3}},
        {"method": "POST", "login": 1, "kwargs": {"team_id": 99}},
    ],
    "webapp.views.posts:index": [{"args": {}}, {"args": {"page": "2"}}, {"args": {"page": "9"}}],
    "webapp.views.posts:show": [
        {"kwargs": {"slug": "hello-flask"}},
        {"kwargs": {"slug": "draft-one"}},
        {"kwargs": {"slug": "draft-one"}, "login": 2},
        {"kwargs": {"slug": "nope"}},
    ],
    "webapp.views.posts:by_tag": [{"kwargs": {"name": "python"}}, {"kwargs": {"name": "nope"}}],
    "webapp.views.posts:create": [
        {"method": "POST", "login": 2, "form": {"title": "SQL tips", "body": "again", "tags": "sql, new"}},
        {"method": "POST", "login": 2, "form": {"title": "Brand new", "body": "text"}},
        {"method": "GET", "login": 2},
    ],
    "webapp.views.posts:edit": [
        {"method": "GET", "login": 2, "kwargs": {"post_id": 3}},
        {"method": "POST", "login": 2, "form": {"title": "Draft one!", "body": "done", "published": "y"}, "kwargs": {"post_id": 3}},
        {"method": "GET", "login": 5, "kwargs": {"post_id": 3}},
        {"method": "GET", "login": 1, "kwargs": {"post_id": 3}},
        {"method": "GET", "login": 2, "kwargs": {"post_id": 99}},
    ],
    "webapp.views.posts:delete": [
        {"method": "POST", "login": 2, "kwargs": {"post_id": 3}},
        {"method": "POST", "login": 2, "kwargs": {"post_id": 1}},
        {"method": "POST", "login": 2, "kwargs": {"post_id": 99}},
    ],
    "webapp.views.posts:comment": [
        {"method": "POST", "login": 3, "form": {"body": "Me too"}, "kwargs": {"post_id": 1}},
        {"method": "POST", "login": 3, "form": {"body": "Early"}, "kwargs": {"post_id": 3}},
    ],
    "webapp.views.users:login": [
        {"method": "POST", "form": {"username": "bob", "password": "secret-bob"}, "args": {"next": "/feed"}},
        {"method": "POST", "form": {"username": "bob", "password": "wrong"}},
        {"method": "POST", "form": {"username": "nobody", "password": "x"}},
    ],
    "webapp.views.users:register": [
        {"method": "POST", "form": {"username": "zed", "email": "zed@example.com", "password": "pw"}},
        {"method": "POST", "form": {"username": "bob", "email": "other@example.com", "password": "pw"}},
        {"method": "POST", "form": {"username": "carl", "email": "CAROL@example.COM", "password": "pw"}},
    ],
    "webapp.views.users:profile": [{"kwargs": {"username": "bob"}}, {"kwargs": {"username": "alice"}}, {"kwargs": {"username": "nobody"}}],
    "webapp.views.users:deactivate": [
        {"method": "POST", "login": 1, "kwargs": {"user_id": 3}},
        {"method": "POST", "login": 2, "kwargs": {"user_id": 3}},
        {"method": "POST", "login": 1, "kwargs": {"user_id": 99}},
    ],
    "webapp.views.users:team": [{"kwargs": {"slug": "core"}}, {"kwargs": {"slug": "empty"}}, {"kwargs": {"slug": "nope"}}],
    "webapp.views.users:join_team": [
        {"method": "POST", "login": 5, "kwargs": {"slug": "core"}},
        {"method": "POST", "login": 2, "kwargs": {"slug": "core"}},
        {"method": "POST", "login": 5, "kwargs": {"slug": "nope"}},
    ],
}


def seed_web(pkg, session):
    m = pkg.models
    users = [
        # id, username, email, admin, active, last seen / created (days ago)
        (1, "alice", "alice@example.com", True, True, 1, 100),
        (2, "bob", "bob@example.com", False, True, 3, 50),
        (3, "carol", "Carol@Example.com", False, True, 30, 20),
        (4, "dave", "dave@example.org", False, False, 200, 300),
        (5, "erin", "erin@example.com", False, True, 2, 5),
    ]
    for i, name, email, admin, active, seen, created in users:
        u = m.User(id=i, username=name, email=email, is_admin=admin, active=active, last_seen=ago(seen), created_at=ago(created))
        u.set_password("secret-" + name)
        session.add(u)
    session.add_all([
        m.Team(id=1, name="Core", slug="core", created_at=ago(90)),
        m.Team(id=2, name="Docs", slug="docs", created_at=ago(80)),
        m.Team(id=3, name="Empty", slug="empty", created_at=ago(70)),
    ])
    session.add_all([
        m.Membership(id=i, user_id=u, team_id=t, role=r)
        for i, u, t, r in [(1, 1, 1, "owner"), (2, 2, 1, "editor"), (3, 3, 1, "member"), (4, 2, 2, "admin"), (5, 3, 2, "owner"), (6, 5, 2, "editor")]
    ])
    session.add_all([m.Tag(id=i, name=n) for i, n in [(1, "python"), (2, "flask"), (3, "sql"), (4, "unused")]])
    posts = [
        # id, title, slug, published, views, author, team, created / updated (days ago)
        (1, "Hello Flask", "hello-flask", True, 10, 1, 1, 60, 60),
        (2, "SQL tips", "sql-tips", True, 25, 2, 1, 40, 39),
        (3, "Draft one", "draft-one", False, 0, 2, None, 200, 200),
        (4, "Python tricks", "python-tricks", True, 5, 3, 2, 10, 10),
        (5, "Draft two", "draft-two", False, 0, 1, 2, 5, 5),
        (6, "Flask and SQL", "flask-and-sql", True, 40, 1, None, 3, 3),
        (7, "Old news", "old-news", True, 1, 4, 1, 300, 300),
    ]
    for i, title, slug, published, views, author, team, created, updated in posts:
        session.add(m.Post(id=i, title=title, slug=slug, body="About " + title.lower(), published=published, views=views,
                           author_id=author, team_id=team, created_at=ago(created), updated_at=ago(updated)))
    session.flush()
    for post_id, tag_id in [(1, 2), (1, 1), (2, 3), (3, 3), (4, 1), (6, 2), (6, 3), (6, 1)]:
        session.execute(m.post_tags.insert().values(post_id=post_id, tag_id=tag_id))
    comments = [
        # id, body, approved, post, author, created (days, minutes ago)
        (1, "Nice", True, 1, 2, (50, 0)),
        (2, "Thanks", True, 1, 1, (49, 0)),
        (3, "Spam!", False, 1, 5, (45, 0)),
        (4, "Great tips", True, 2, 3, (35, 0)),
        (5, "More please", True, 2, 3, (34, 0)),
        (6, "Agreed", True, 6, 2, (2, 0)),
        (7, "Pending", False, 6, 3, (1, 30)),
        (8, "Yes", True, 6, 3, (1, 0)),
        (9, "On python", True, 4, 1, (9, 0)),
        (10, "Hmm", False, 4, 2, (8, 0)),
    ]
    session.add_all([m.Comment(id=i, body=b, approved=a, post_id=p, author_id=u, created_at=ago(d, minutes=mi))
                     for i, b, a, p, u, (d, mi) in comments])


def load_web(root, alias):
    """The `webapp` package under `root`, imported as `alias`, and a Flask app built by its create_app()."""
    pkg_dir = os.path.join(root, "webapp")
    spec = importlib.util.spec_from_file_location(alias, os.path.join(pkg_dir, "__init__.py"), submodule_search_locations=[pkg_dir])
    pkg = importlib.util.module_from_spec(spec)
    sys.modules[alias] = pkg
    spec.loader.exec_module(pkg)
    pkg.modules = {name: importlib.import_module("%s.%s" % (alias, name)) for name in WEB_MODULES}
    pkg.models = pkg.modules["models"]
    pkg.models.generate_password_hash = lambda password: "plain:" + password
    pkg.models.check_password_hash = lambda hashed, password: hashed == "plain:" + password
    for name in ("views.admin", "views.posts", "views.users"):
        pkg.modules[name].render_template = lambda template, **context: {"template": template, "context": context}
    pkg.app = pkg.create_app(WebConfig)
    pkg.db = pkg.modules["extensions"].db
    return pkg


def run_web_call(pkg, target, call):
    app, db, m = pkg.app, pkg.db, pkg.models
    with app.app_context():
        db.drop_all()
        db.create_all()
        seed_web(pkg, db.session)
        db.session.commit()
    module, qual = target.split(":")
    fn = getattr(pkg.modules[module[len("webapp."):]], qual)
    with app.test_request_context(call.get("path", "/"), method=call.get("method", "GET"), query_string=call.get("args"), data=call.get("form")):
        session = db.session()
        # Strong references: the identity map is weak, and these objects show synchronisation.
        preloaded = [obj for mp in db.Model.registry.mappers for obj in session.query(mp.class_).all()]
        if "login" in call:
            flask_login.login_user(session.get(m.User, call["login"]))
        kwargs = {k: session.get(m.Post, v["$post"]) if isinstance(v, dict) and "$post" in v else v for k, v in call.get("kwargs", {}).items()}
        try:
            result = norm(fn(**kwargs))
        except Exception as e:  # the exception's class is part of the behaviour (NotFound, Forbidden, ...)
            result = {"error": type(e).__name__}
            db.session.rollback()
        try:
            db.session.flush()
            flushed = None
        except Exception as e:
            flushed = {"error": type(e).__name__}
            db.session.rollback()
        rows = {}
        for table in db.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            rows[table.name] = [[norm(x) for x in r] for r in db.session.execute(table.select().order_by(*order))]
        state = session_state(db.session())
        flashed = flask.session.get("_flashes", [])
        del preloaded
    return {"result": result, "flush": flushed, "rows": rows, "session": state, "flashed": [list(f) for f in flashed]}


def main():
    req = json.load(sys.stdin)
    out = {"sqlalchemy": sqlalchemy.__version__, "results": [], "errors": []}
    for load, calls, run, alias in [(load_package, CALLS, run_call, "corpus_%s"), (load_web, WEB_CALLS, run_web_call, "corpus_web_%s")]:
        pkgs = {}
        for side in ("original", "rewritten"):
            try:
                pkgs[side] = load(req[side], alias % side)
            except Exception as e:
                out["errors"].append({"side": side, "error": "%s: %s" % (type(e).__name__, e)})
        if len(pkgs) == 2:
            for target, target_calls in calls.items():
                for kwargs in target_calls:
                    entry = {"target": target, "kwargs": kwargs}
                    for side in ("original", "rewritten"):
                        try:
                            entry[side] = run(pkgs[side], target, kwargs)
                        except Exception as e:
                            out["errors"].append({"side": side, "error": "%s(%s): %s: %s" % (target, json.dumps(kwargs), type(e).__name__, e)})
                            entry[side] = None
                    out["results"].append(entry)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
