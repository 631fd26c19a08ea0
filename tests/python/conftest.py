"""Shared fixtures: local config, and a mock ComfyUI server on a loopback port."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The app reads its config on first use; point it at the repo's local config.
os.environ["ENV_TARGET"] = "local"
os.environ["APP_CONFIG_PATH"] = str(ROOT / "config" / "local.json")
os.environ.setdefault("DATABASE_URL", "postgresql://unused@127.0.0.1:1/unused")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:1/0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def comfyui_url():
    import uvicorn

    from genonaut.mock_comfyui import server

    server.DELAY_SECONDS = 0.3
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(server.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("mock ComfyUI did not start within 15 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=5)


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL nothing listens on: connection refused."""
    return f"http://127.0.0.1:{free_port()}"
