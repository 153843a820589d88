"""Models and seed data shared by the SQLAlchemy 2.0 rewrite fixtures (test/fixtures/rewrite/sqlalchemy2)
and the execution harness (harness.py). Fixtures import their classes from here."""
from sqlalchemy import Column, ForeignKey, Integer, String
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()


class User(Base):
    __tablename__ = "users"

    id = Column(Integer, primary_key=True)
    name = Column(String, nullable=False)
    jobs = relationship("Job", back_populates="owner")


class Job(Base):
    __tablename__ = "jobs"

    id = Column(Integer, primary_key=True)
    name = Column(String, nullable=False, unique=True)
    status = Column(String, default="pending")
    priority = Column(Integer)
    owner_id = Column(Integer, ForeignKey("users.id"))
    owner = relationship("User", back_populates="jobs")
    runs = relationship("Run", back_populates="job")


class Run(Base):
    __tablename__ = "job_runs"

    id = Column(Integer, primary_key=True)
    job_id = Column(Integer, ForeignKey("jobs.id"))
    exit_code = Column(Integer)
    started = Column(Integer)
    job = relationship("Job", back_populates="runs")


USERS = [(1, "ada"), (2, "bob"), (3, "cy")]
JOBS = [
    # id, name, status, priority, owner_id
    (1, "backup", "pending", 3, 1),
    (2, "build", "running", 1, 1),
    (3, "deploy", "failed", 2, 2),
    (4, "digest", "pending", None, 2),
    (5, "export", "failed", 5, None),
    (6, "index", "running", 2, 3),
    (7, "janitor", "pending", 1, 1),
    (8, "jobs-report", "done", 4, 2),
]
RUNS = [
    # id, job_id, exit_code, started
    (1, 1, 0, 100), (2, 1, 1, 110), (3, 2, 0, 120), (4, 3, 1, 130), (5, 3, 2, 140), (6, 3, 0, 150),
    (7, 5, 1, 160), (8, 6, 0, 170), (9, 6, None, 180), (10, 8, 0, 190), (11, 8, 3, 200), (12, 2, 1, 210),
]


def seed(session):
    session.add_all(User(id=i, name=n) for i, n in USERS)
    session.add_all(Job(id=i, name=n, status=s, priority=p, owner_id=o) for i, n, s, p, o in JOBS)
    session.add_all(Run(id=i, job_id=j, exit_code=e, started=t) for i, j, e, t in RUNS)
    session.commit()
