"""Generation jobs and where they are kept.

``PostgresJobStore`` is what runs; ``MemoryJobStore`` has the same contract
for tests of the API and the worker without a database.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from typing import Any, Protocol

STATUSES = ("pending", "running", "completed", "failed")


@dataclass(frozen=True)
class Job:
    id: str
    prompt: str
    size: str
    status: str
    image_ref: str | None
    image_sha256: str | None
    image_bytes: int | None
    error: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["created_at"] = self.created_at.isoformat()
        d["updated_at"] = self.updated_at.isoformat()
        return d


class JobStore(Protocol):
    def create(self, prompt: str, size: str) -> Job: ...

    def get(self, job_id: str) -> Job | None: ...

    def mark_running(self, job_id: str) -> Job | None: ...

    def mark_completed(self, job_id: str, image_ref: str, sha256: str, size_bytes: int) -> Job | None: ...

    def mark_failed(self, job_id: str, error: str) -> Job | None: ...

    def ping(self) -> None: ...


def _now() -> datetime:
    return datetime.now(timezone.utc)


class MemoryJobStore:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def create(self, prompt: str, size: str) -> Job:
        now = _now()
        job = Job(str(uuid.uuid4()), prompt, size, "pending", None, None, None, None, 0, now, now)
        with self._lock:
            self._jobs[job.id] = job
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def _update(self, job_id: str, **changes: Any) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            job = replace(job, updated_at=_now(), **changes)
            self._jobs[job_id] = job
            return job

    def mark_running(self, job_id: str) -> Job | None:
        job = self.get(job_id)
        return self._update(job_id, status="running", attempts=(job.attempts + 1) if job else 0)

    def mark_completed(self, job_id: str, image_ref: str, sha256: str, size_bytes: int) -> Job | None:
        return self._update(
            job_id, status="completed", image_ref=image_ref, image_sha256=sha256, image_bytes=size_bytes, error=None
        )

    def mark_failed(self, job_id: str, error: str) -> Job | None:
        return self._update(job_id, status="failed", error=error)

    def ping(self) -> None:
        return None


_COLUMNS = "id, prompt, size, status, image_ref, image_sha256, image_bytes, error, attempts, created_at, updated_at"


class PostgresJobStore:
    """Each call takes its own short connection: the API and worker stay
    correct across database restarts without a pool to heal."""

    def __init__(self, url: str, connect_timeout: float = 3) -> None:
        self._url = url
        self._timeout = connect_timeout

    def _connect(self):
        import psycopg

        return psycopg.connect(self._url, connect_timeout=int(max(1, self._timeout)), autocommit=True)

    def _one(self, sql: str, params: tuple) -> Job | None:
        with self._connect() as conn:
            row = conn.execute(sql, params).fetchone()
        if row is None:
            return None
        return Job(str(row[0]), *row[1:])

    def create(self, prompt: str, size: str) -> Job:
        job = self._one(
            f"INSERT INTO generation_jobs (id, prompt, size, status) VALUES (%s, %s, %s, 'pending') RETURNING {_COLUMNS}",
            (str(uuid.uuid4()), prompt, size),
        )
        assert job is not None
        return job

    def get(self, job_id: str) -> Job | None:
        return self._one(f"SELECT {_COLUMNS} FROM generation_jobs WHERE id = %s", (job_id,))

    def mark_running(self, job_id: str) -> Job | None:
        return self._one(
            "UPDATE generation_jobs SET status = 'running', attempts = attempts + 1, updated_at = now() "
            f"WHERE id = %s RETURNING {_COLUMNS}",
            (job_id,),
        )

    def mark_completed(self, job_id: str, image_ref: str, sha256: str, size_bytes: int) -> Job | None:
        return self._one(
            "UPDATE generation_jobs SET status = 'completed', image_ref = %s, image_sha256 = %s, image_bytes = %s, "
            f"error = NULL, updated_at = now() WHERE id = %s RETURNING {_COLUMNS}",
            (image_ref, sha256, size_bytes, job_id),
        )

    def mark_failed(self, job_id: str, error: str) -> Job | None:
        return self._one(
            "UPDATE generation_jobs SET status = 'failed', error = %s, updated_at = now() "
            f"WHERE id = %s RETURNING {_COLUMNS}",
            (error[:2000], job_id),
        )

    def ping(self) -> None:
        with self._connect() as conn:
            conn.execute("SELECT 1").fetchone()


_default: JobStore | None = None


def default_store() -> JobStore:
    """The process's store, made from its settings on first use."""
    global _default
    if _default is None:
        from genonaut.config_loader import settings

        s = settings()
        _default = PostgresJobStore(s.database_url, s.get("database.connect_timeout_seconds", 3))
    return _default
