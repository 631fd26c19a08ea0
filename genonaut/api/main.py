"""FastAPI app: health, and generation jobs stored in Postgres and run by Celery.

Served by ``uvicorn genonaut.api.main:app --port 8001``. The store and the
queue are dependencies so tests can replace them.
"""

from __future__ import annotations

import logging
import uuid
from typing import Callable

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator

from genonaut.config_loader import settings
from genonaut.jobs import Job, JobStore, default_store

log = logging.getLogger("genonaut.api")

app = FastAPI(title="Genonaut API", version="0.1.0")

def get_store() -> JobStore:
    return default_store()


def get_enqueue() -> Callable[[str], None]:
    # Imported here so the API module loads without a broker configured.
    from genonaut.worker.queue_app import enqueue_generation

    return enqueue_generation


def redis_ping() -> None:
    import redis

    s = settings()
    timeout = s.get("redis.socket_timeout_seconds", 3)
    client = redis.Redis.from_url(s.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()


def get_redis_ping() -> Callable[[], None]:
    return redis_ping


class JobRequest(BaseModel):
    prompt: str = Field(min_length=1, max_length=2000, description="What to draw")
    size: str = Field(default="512x512", description="WIDTHxHEIGHT, one of the allowed sizes")

    @field_validator("prompt")
    @classmethod
    def prompt_not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("prompt must not be blank")
        return v

    @field_validator("size")
    @classmethod
    def size_allowed(cls, v: str) -> str:
        allowed = settings().get("api.allowed_sizes", ["512x512"])
        if v not in allowed:
            raise ValueError(f"size must be one of {', '.join(allowed)}")
        return v


def job_body(job: Job) -> dict:
    body = job.to_dict()
    body["image"] = (
        {"ref": job.image_ref, "sha256": job.image_sha256, "bytes": job.image_bytes} if job.image_ref else None
    )
    return body


@app.get("/api/v1/health")
def health(
    store: JobStore = Depends(get_store), ping_redis: Callable[[], None] = Depends(get_redis_ping)
) -> JSONResponse:
    checks: dict[str, str] = {}
    for name, probe in (("postgres", store.ping), ("redis", ping_redis)):
        try:
            probe()
            checks[name] = "ok"
        except Exception as e:  # any failure to answer is "unavailable", with why
            checks[name] = f"unavailable: {type(e).__name__}: {e}".strip()
    ok = all(v == "ok" for v in checks.values())
    failed = [k for k, v in checks.items() if v != "ok"]
    body = {"status": "ok" if ok else "unavailable", "checks": checks}
    if failed:
        body["failed"] = failed
    return JSONResponse(body, status_code=200 if ok else 503)


@app.post("/api/v1/generation-jobs", status_code=201)
def create_job(
    request: JobRequest,
    store: JobStore = Depends(get_store),
    enqueue: Callable[[str], None] = Depends(get_enqueue),
) -> dict:
    job = store.create(request.prompt, request.size)
    try:
        enqueue(job.id)
    except Exception as e:  # the row stays, marked failed, so nothing is lost silently
        log.exception("could not enqueue job %s", job.id)
        store.mark_failed(job.id, f"could not enqueue: {type(e).__name__}: {e}")
        raise HTTPException(status_code=503, detail=f"job {job.id} stored but the queue is unavailable") from e
    return job_body(job)


@app.get("/api/v1/generation-jobs/{job_id}")
def get_job(job_id: uuid.UUID, store: JobStore = Depends(get_store)) -> dict:
    job = store.get(str(job_id))
    if job is None:
        raise HTTPException(status_code=404, detail=f"no generation job {job_id}")
    return job_body(job)


@app.exception_handler(Exception)
async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"detail": "internal error"}, status_code=500)
