import pytest

from genonaut.jobs import MemoryJobStore
from genonaut.worker import queue_app
from genonaut.worker.comfyui_client import ComfyUIClient, ComfyUIError, ComfyUIUnavailable, workflow
from genonaut.worker.queue_app import run_job


def test_workflow_carries_prompt_and_size():
    graph = workflow("a cat", "768x512", "model.ckpt", seed=1)
    assert graph["6"]["inputs"]["text"] == "a cat"
    assert (graph["5"]["inputs"]["width"], graph["5"]["inputs"]["height"]) == (768, 512)
    assert graph["9"]["class_type"] == "SaveImage"


def test_client_generates_a_png(comfyui_url):
    c = ComfyUIClient(comfyui_url, poll_interval=0.05, job_timeout=10)
    try:
        image = c.generate("a cat", "512x512", "model.ckpt", seed=3)
    finally:
        c.close()
    assert image.data.startswith(b"\x89PNG") and image.filename.endswith(".png")


def test_server_down_is_retryable_and_keeps_the_job(closed_port_url):
    store = MemoryJobStore()
    job = store.create("a cat", "512x512")
    c = ComfyUIClient(closed_port_url, request_timeout=2)
    with pytest.raises(ComfyUIUnavailable):
        run_job(job.id, store, c, "m")
    c.close()
    kept = store.get(job.id)
    assert kept is not None and kept.status == "running" and kept.attempts == 1


def test_a_refused_job_is_marked_failed_with_the_reason(comfyui_url, monkeypatch):
    store = MemoryJobStore()
    job = store.create("a cat", "512x512")
    c = ComfyUIClient(comfyui_url)

    def refuse(*a, **k):
        raise ComfyUIError("workflow rejected: bad checkpoint")

    monkeypatch.setattr(c, "generate", refuse)
    assert run_job(job.id, store, c, "m") == "failed"
    c.close()
    assert store.get(job.id).error == "workflow rejected: bad checkpoint"


def test_timeout_waiting_for_history_fails_the_job(comfyui_url):
    c = ComfyUIClient(comfyui_url, poll_interval=0.01, job_timeout=0.05)
    with pytest.raises(ComfyUIError, match="did not finish within"):
        c.wait(c.submit(workflow("x", "256x256", "m", 1)))
    c.close()


def run_task_eagerly(monkeypatch, make_client):
    """generate_image on a fresh job, run in-process: a memory store, a new
    ComfyUI client per attempt (the task closes it), Celery in eager mode.
    Returns (store, job, result)."""
    store = MemoryJobStore()
    job = store.create("a tree", "256x256")
    monkeypatch.setattr(queue_app, "_store", store)
    monkeypatch.setattr(queue_app, "comfyui_client", make_client)
    queue_app.celery_app.conf.task_always_eager = True
    try:
        result = queue_app.generate_image.apply(args=[job.id])
    finally:
        queue_app.celery_app.conf.task_always_eager = False
    return store, job, result


def test_celery_task_in_eager_mode(comfyui_url, monkeypatch):
    store, job, result = run_task_eagerly(monkeypatch, lambda: ComfyUIClient(comfyui_url, poll_interval=0.05))
    assert result.get() == "completed"
    assert store.get(job.id).status == "completed"


def test_task_routes_to_the_generation_queue():
    route = queue_app.celery_app.conf.task_routes["genonaut.generate_image"]
    assert route == {"queue": "generation"}
    assert queue_app.celery_app.conf.task_acks_late is True


def test_celery_task_retries_then_fails_the_job_with_the_reason(closed_port_url, monkeypatch):
    """With the image server down, the task retries (eagerly here, so without
    the backoff waits) and finally marks the job failed, keeping the row."""
    store, job, result = run_task_eagerly(monkeypatch, lambda: ComfyUIClient(closed_port_url, request_timeout=1))
    assert result.get(propagate=False) == "failed"
    kept = store.get(job.id)
    assert kept.status == "failed"
    assert kept.error.startswith("image server unavailable after 5 retries")
    assert kept.attempts == 6, "the first try and five retries"


def test_held_tasks_count_messages_so_a_retry_received_before_its_attempt_ends_still_counts(tmp_path, monkeypatch):
    monkeypatch.setattr(queue_app, "HELD_TASKS", tmp_path / "held")
    queue_app.forget_held_tasks()
    assert list((tmp_path / "held").iterdir()) == []
    queue_app.hold("t1")
    queue_app.hold("t1")  # its retry, received while the first attempt runs
    queue_app.release("t1")  # the first attempt ends
    assert len(list((tmp_path / "held").iterdir())) == 1
    queue_app.release("t1")
    queue_app.release("t1")  # one more release than holds: nothing to remove
    assert list((tmp_path / "held").iterdir()) == []
    queue_app.hold("t2")
    queue_app.forget_held_tasks()  # a restarted worker holds nothing
    assert list((tmp_path / "held").iterdir()) == []
