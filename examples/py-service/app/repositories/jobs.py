"""Job persistence on raw psycopg2: the first module the migration plan rewrites."""
import logging

import psycopg2.extras

from app.db import get_db

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id SERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0
)
"""


def create_schema():
    with get_db() as conn, conn.cursor() as cur:
        cur.execute(SCHEMA)


def get_job(job_id):
    with get_db() as conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute("SELECT id, name, status, attempts FROM jobs WHERE id = %s", (job_id,))
        return cur.fetchone()


def create_job(name):
    with get_db() as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO jobs (name, status) VALUES (%(name)s, 'pending') RETURNING id",
            {"name": name},
        )
        log.info("Inserted job %s", name)
        return cur.fetchone()[0]


def update_job(job_id, name=None, status=None):
    fields = []
    values = []
    if name is not None:
        fields.append("name = %s")
        values.append(name)
    if status is not None:
        fields.append("status = %s")
        values.append(status)
    if not fields:
        return
    with get_db() as conn, conn.cursor() as cur:
        cur.execute(f"UPDATE jobs SET {', '.join(fields)} WHERE id = %s", (*values, job_id))


def stale_executions(minutes):
    with get_db() as conn, conn.cursor() as cur:
        cur.execute(
            """
            SELECT e.id, e.job_id, j.name
              FROM executions e
              JOIN jobs j ON j.id = e.job_id
             WHERE e.finished_at IS NULL
               AND e.started_at < now() - interval '1 minute' * %s
            """,
            (minutes,),
        )
        return cur.fetchall()
