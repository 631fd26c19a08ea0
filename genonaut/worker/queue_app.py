"""Celery app: Redis as broker and result backend, one task per generation job.

Run with ``celery -A genonaut.worker.queue_app:celery_app worker -Q default,generation``.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
import zlib
from pathlib import Path

from celery import Celery
from celery.signals import task_postrun, task_received, task_rejected, task_revoked, worker_init

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


# The tasks this worker holds, one empty file per message received and not
# yet finished (a retry's message waiting out its countdown counts too):
# `geno up --watch` runs `test -z "$(ls -A DIR)"` (stack.yaml's
# develop.idle) to restart an idle worker at once and to let a busy one
# finish its tasks first. A pool process lost mid-task leaves its file, so
# the worker counts as busy until it restarts: the safe side.
HELD_TASKS = Path(os.environ.get("GENONAUT_HELD_TASKS", "/tmp/genonaut-held-tasks"))


@worker_init.connect
def forget_held_tasks(**_kwargs) -> None:
    """A new worker process holds nothing yet."""
    shutil.rmtree(HELD_TASKS, ignore_errors=True)
    HELD_TASKS.mkdir(parents=True, exist_ok=True)


def hold(task_id: str) -> None:
    # Per message, not per task: a retry is a new message with the same id,
    # and may arrive before the attempt that sent it has finished.
    try:
        (HELD_TASKS / f"{task_id}.{uuid.uuid4().hex}").touch()
    except OSError as e:
        log.warning("cannot note task %s as held: %s", task_id, e)


def release(task_id: str) -> None:
    for held in HELD_TASKS.glob(f"{task_id}.*"):
        held.unlink(missing_ok=True)
        return


@task_received.connect
def _held(request=None, **_kwargs) -> None:
    if request is not None:
        hold(request.id)


@task_postrun.connect
def _finished(task_id=None, **_kwargs) -> None:
    if task_id:
        release(task_id)


@task_revoked.connect
def _revoked(request=None, **_kwargs) -> None:
    if request is not None:
        release(request.id)


@task_rejected.connect
def _rejected(message=None, **_kwargs) -> None:
    task_id = getattr(message, "headers", {}).get("id") if message is not None else None
    if task_id:
        release(task_id)


def enqueue_generation(job_id: str) -> None:
    generate_image.apply_async(args=[job_id], queue="generation")
