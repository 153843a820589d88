"""HTTP handlers. Some still do synchronous database work inside async def."""
from fastapi import APIRouter, HTTPException

from app.db import get_db, get_session
from app.models import Execution, Job

router = APIRouter()


@router.get("/jobs/{job_id}")
async def read_job(job_id: int):
    session = get_session()
    job = session.query(Job).filter(Job.id == job_id).first()
    if job is None:
        raise HTTPException(status_code=404, detail="Select an existing job")
    return job


@router.get("/jobs")
async def list_jobs(status: str = "pending"):
    with get_db() as conn, conn.cursor() as cur:
        cur.execute("SELECT id, name FROM jobs WHERE status = %s ORDER BY id", (status,))
        return cur.fetchall()


def count_running():
    session = get_session()
    return session.query(Job).filter_by(status="running").count()


def executions_for(job_id):
    session = get_session()
    return (
        session.query(Execution)
        .join(Job, Job.id == Execution.job_id)
        .filter(Job.id == job_id)
        .order_by(Execution.started_at.desc())
        .all()
    )
