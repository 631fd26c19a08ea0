"""The ComfyUI endpoints Genonaut uses, answered without a GPU.

``POST /prompt`` queues a workflow; ``GET /history/{id}`` shows nothing until
a simulated delay has passed, then the outputs; ``GET /view`` serves a real
PNG (a small gradient drawn from the prompt id); ``GET /system_stats`` and
``GET /health`` report on the server.
"""

from __future__ import annotations

import os
import platform
import struct
import sys
import threading
import time
import uuid
import zlib
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Response
from pydantic import BaseModel

DELAY_SECONDS = float(os.environ.get("MOCK_COMFYUI_DELAY_SECONDS", "1.0"))

app = FastAPI(title="mock ComfyUI")


def png(width: int, height: int, seed: int) -> bytes:
    """An RGB PNG, built by hand so the mock needs no imaging library."""
    r0, g0, b0 = seed & 0xFF, (seed >> 8) & 0xFF, (seed >> 16) & 0xFF
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type: none
        for x in range(width):
            rows += bytes(((r0 + x * 4) & 0xFF, (g0 + y * 4) & 0xFF, (b0 + x + y) & 0xFF))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows))) + chunk(b"IEND", b"")


class PromptRequest(BaseModel):
    prompt: dict[str, Any]
    client_id: str | None = None


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queued: dict[str, tuple[float, dict[str, Any], int]] = {}
        self.images: dict[str, int] = {}
        self.counter = 0
        self.started = time.time()


state = _State()


@app.post("/prompt")
def submit(request: PromptRequest) -> dict[str, Any]:
    errors = {
        node_id: {"errors": [{"message": "node has no class_type"}]}
        for node_id, node in request.prompt.items()
        if not isinstance(node, dict) or "class_type" not in node
    }
    if errors:
        return {"prompt_id": None, "number": None, "node_errors": errors}
    prompt_id = str(uuid.uuid4())
    with state.lock:
        state.counter += 1
        state.queued[prompt_id] = (time.monotonic(), request.prompt, state.counter)
        number = state.counter
    return {"prompt_id": prompt_id, "number": number, "node_errors": {}}


@app.get("/history/{prompt_id}")
def history(prompt_id: str) -> dict[str, Any]:
    with state.lock:
        entry = state.queued.get(prompt_id)
    if entry is None:
        return {}
    queued_at, graph, number = entry
    if time.monotonic() - queued_at < DELAY_SECONDS:
        return {}  # still running: ComfyUI has no history entry yet
    filename = f"genonaut_{number:05d}_.png"
    with state.lock:
        state.images[filename] = zlib.crc32(prompt_id.encode())
    save_nodes = [nid for nid, node in graph.items() if node.get("class_type") == "SaveImage"] or ["9"]
    return {
        prompt_id: {
            "prompt": [number, prompt_id, graph, {}, save_nodes],
            "outputs": {save_nodes[0]: {"images": [{"filename": filename, "subfolder": "", "type": "output"}]}},
            "status": {"status_str": "success", "completed": True, "messages": []},
        }
    }


@app.get("/view")
def view(filename: str = Query(...), subfolder: str = "", type: str = "output") -> Response:
    with state.lock:
        seed = state.images.get(filename)
    if seed is None or type != "output":
        raise HTTPException(status_code=404, detail=f"no image {filename}")
    return Response(png(64, 64, seed), media_type="image/png")


@app.get("/system_stats")
def system_stats() -> dict[str, Any]:
    return {
        "system": {
            "os": platform.system().lower(),
            "python_version": sys.version.split()[0],
            "comfyui_version": "mock",
            "embedded_python": False,
        },
        "devices": [{"name": "mock", "type": "cpu", "vram_total": 0, "vram_free": 0}],
        "queue": {"submitted": state.counter},
    }


@app.get("/health")
def health() -> dict[str, Any]:
    return {"status": "ok", "uptime_seconds": round(time.time() - state.started, 1)}
