"""Celery app: Redis as broker and result backend, one task per generation job.

Run with ``celery -A genonaut.worker.queue_app:celery_app worker -Q default,generation``.
"""

from __future__ import annotations

import logging
import os
import zlib

from celery import Celery

from genonaut.config_loader import settings
from genonaut.jobs import JobStore, default_store
from genonaut.worker.comfyui_client import ComfyUIClient, ComfyUIError, ComfyUIUnavailable

log = logging.getLogger("genonaut.worker")


def _broker_url() -> str:
    # Without ENV_TARGET (tests, `celery --help`) fall back to REDIS_URL or a
    # local default; the worker role always runs with the real config.
    if os.environ.get("ENV_TARGET"):
        return settings().redis_url
    return os.environ.get("REDIS_URL", "redis://localhost:6379/0")


celery_app = Celery("genonaut", broker=_broker_url(), backend=_broker_url())
celery_app.conf.update(
    task_default_queue="default",
    task_routes={"genonaut.generate_image": {"queue": "generation"}},
    # A job is acknowledged only when done, so a worker that dies mid-job
    # hands it to another instead of losing it.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    result_expires=3600,
)

_store: JobStore | None = None


def store() -> JobStore:
    # Tests put a MemoryJobStore here.
    return _store if _store is not None else default_store()


def comfyui_client() -> ComfyUIClient:
    s = settings()
    return ComfyUIClient(
        s.comfyui_url,
        request_timeout=s.get("comfyui.request_timeout_seconds", 10),
        poll_interval=s.get("comfyui.poll_interval_seconds", 0.5),
        job_timeout=s.get("comfyui.job_timeout_seconds", 120),
    )


def run_job(job_id: str, jobs: JobStore, client: ComfyUIClient, checkpoint: str) -> str:
    """One attempt at a job. Raises ComfyUIUnavailable when a retry may help;
    returns the final status otherwise. The job row is never deleted."""
    job = jobs.mark_running(job_id)
    if job is None:
        log.error("job %s does not exist; nothing to do", job_id)
        return "missing"
    try:
        image = client.generate(job.prompt, job.size, checkpoint, seed=zlib.crc32(job_id.encode()))
    except ComfyUIUnavailable:
        raise
    except ComfyUIError as e:
        jobs.mark_failed(job_id, str(e))
        return "failed"
    jobs.mark_completed(job_id, image.ref, image.sha256, len(image.data))
    log.info("job %s completed: %s (%d bytes)", job_id, image.ref, len(image.data))
    return "completed"


@celery_app.task(name="genonaut.generate_image", bind=True)
def generate_image(self, job_id: str) -> str:
    s = settings()
    max_retries = int(s.get("worker.max_retries", 5))
    client = comfyui_client()
    try:
        return run_job(job_id, store(), client, s.get("comfyui.checkpoint", "model.safetensors"))
    except ComfyUIUnavailable as e:
        if self.request.retries >= max_retries:
            store().mark_failed(job_id, f"image server unavailable after {max_retries} retries: {e}")
            return "failed"
        # Exponential backoff: 2, 4, 8 … seconds, capped.
        countdown = min(2 ** (self.request.retries + 1), int(s.get("worker.retry_backoff_max_seconds", 60)))
        log.warning("job %s: image server unavailable (%s); retry in %d s", job_id, e, countdown)
        raise self.retry(exc=e, countdown=countdown, max_retries=max_retries)
    finally:
        client.close()


def enqueue_generation(job_id: str) -> None:
    generate_image.apply_async(args=[job_id], queue="generation")
