import uuid

import pytest
from fastapi.testclient import TestClient

from genonaut.api import main
from genonaut.jobs import MemoryJobStore
from genonaut.worker.comfyui_client import ComfyUIClient
from genonaut.worker.queue_app import run_job


@pytest.fixture
def store():
    return MemoryJobStore()


@pytest.fixture
def queued():
    return []


@pytest.fixture
def client(store, queued):
    main.app.dependency_overrides[main.get_store] = lambda: store
    main.app.dependency_overrides[main.get_enqueue] = lambda: queued.append
    main.app.dependency_overrides[main.get_redis_ping] = lambda: (lambda: None)
    yield TestClient(main.app)
    main.app.dependency_overrides.clear()


def test_create_then_read_a_job(client, queued):
    r = client.post("/api/v1/generation-jobs", json={"prompt": "a red fox", "size": "512x512"})
    assert r.status_code == 201
    job = r.json()
    assert job["status"] == "pending" and job["prompt"] == "a red fox" and job["image"] is None
    assert queued == [job["id"]]
    r = client.get(f"/api/v1/generation-jobs/{job['id']}")
    assert r.status_code == 200 and r.json()["id"] == job["id"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"size": "512x512"}, "prompt"),
        ({"prompt": "   "}, "prompt"),
        ({"prompt": "x" * 2001}, "prompt"),
        ({"prompt": "ok", "size": "13x13"}, "size"),
        ({"prompt": 42}, "prompt"),
    ],
)
def test_bad_input_is_422_naming_the_field(client, body, field):
    r = client.post("/api/v1/generation-jobs", json=body)
    assert r.status_code == 422
    assert [e["loc"][-1] for e in r.json()["detail"]] == [field]


def test_unknown_job_is_404_and_a_bad_id_is_422(client):
    assert client.get(f"/api/v1/generation-jobs/{uuid.uuid4()}").status_code == 404
    r = client.get("/api/v1/generation-jobs/not-a-uuid")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "job_id"]


def test_queue_down_keeps_the_row_marked_failed(client, store):
    def broken(job_id):
        raise ConnectionError("broker refused")

    main.app.dependency_overrides[main.get_enqueue] = lambda: broken
    r = client.post("/api/v1/generation-jobs", json={"prompt": "a boat"})
    assert r.status_code == 503
    (job,) = store._jobs.values()
    assert job.status == "failed" and "broker refused" in job.error


def test_health_reports_which_dependency_failed(client, store):
    assert client.get("/api/v1/health").json() == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}}

    def down():
        raise ConnectionError("connection refused")

    main.app.dependency_overrides[main.get_redis_ping] = lambda: down
    r = client.get("/api/v1/health")
    assert r.status_code == 503
    body = r.json()
    assert body["failed"] == ["redis"]
    assert body["checks"]["postgres"] == "ok"
    assert body["checks"]["redis"].startswith("unavailable: ConnectionError")


def test_job_reaches_completed_through_the_worker_and_mock_server(client, store, queued, comfyui_url):
    job = client.post("/api/v1/generation-jobs", json={"prompt": "a lighthouse"}).json()
    # The queue in "eager" form: run the worker's job function right here.
    comfy = ComfyUIClient(comfyui_url, poll_interval=0.05, job_timeout=10)
    try:
        assert run_job(queued.pop(), store, comfy, "model.safetensors") == "completed"
    finally:
        comfy.close()
    done = client.get(f"/api/v1/generation-jobs/{job['id']}").json()
    assert done["status"] == "completed"
    assert done["image"]["ref"].startswith(f"{comfyui_url}/view?filename=genonaut_")
    assert len(done["image"]["sha256"]) == 64 and done["image"]["bytes"] > 100
