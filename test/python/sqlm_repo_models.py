"""Mapped classes and seed rows for the repository rewrite fixtures (test/fixtures/rewrite/repository-py).
The generated repositories import their classes from here (`from sqlm_repo_models import Job`);
test/fixtures/rewrite/repository-py/models.json describes the same classes to the engine."""
from sqlalchemy import Column, Integer, String
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Job(Base):
    __tablename__ = "jobs"

    id = Column(Integer, primary_key=True)
    name = Column(String, nullable=False)
    status = Column(String)
    priority = Column(Integer)


class JobRun(Base):
    __tablename__ = "job_runs"

    id = Column(Integer, primary_key=True)
    job_id = Column(Integer)
    exit_code = Column(Integer)
    # The attribute differs from the column: rows read by name must keep the column's name.
    started_at = Column("started", Integer)


TABLES = ["jobs", "job_runs"]

JOBS = [
    # id, name, status, priority
    (1, "backup", "pending", 3),
    (2, "build", "running", 1),
    (3, "deploy", "failed", 2),
    (4, "digest", "pending", None),
    (5, "export", "failed", 5),
    (6, "index", "running", 2),
    (7, "janitor", "pending", 1),
    (8, "jobs-report", "done", 4),
]
RUNS = [
    # id, job_id, exit_code, started
    (1, 1, 0, 100), (2, 1, 1, 110), (3, 2, 0, 120), (4, 3, 1, 130), (5, 3, 2, 140), (6, 3, 0, 150),
    (7, 5, 1, 160), (8, 6, 0, 170), (9, 6, None, 180), (10, 8, 0, 190), (11, 8, 3, 200), (12, 2, 1, 210),
]


def create_and_seed(engine):
    """Drops and creates the tables, then inserts the seed rows (ids kept; sequences moved past them)."""
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(Job.__table__.insert(), [dict(id=i, name=n, status=s, priority=p) for i, n, s, p in JOBS])
        conn.execute(JobRun.__table__.insert(), [dict(id=i, job_id=j, exit_code=e, started=t) for i, j, e, t in RUNS])
        if engine.dialect.name == "postgresql":
            for t in TABLES:
                conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('%s', 'id'), (SELECT max(id) FROM %s))" % (t, t))
