import struct
import time
import zlib

import httpx

from genonaut.mock_comfyui.server import png


def test_png_is_well_formed():
    data = png(8, 4, seed=7)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks.append((kind, body))
        pos += 12 + length
    assert [k for k, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    width, height = struct.unpack(">II", chunks[0][1][:8])
    assert (width, height) == (8, 4)
    assert len(zlib.decompress(chunks[1][1])) == height * (1 + width * 3)


def test_prompt_history_view_flow(comfyui_url):
    with httpx.Client(base_url=comfyui_url, timeout=5) as c:
        graph = {"9": {"class_type": "SaveImage", "inputs": {}}}
        prompt_id = c.post("/prompt", json={"prompt": graph}).json()["prompt_id"]
        assert c.get(f"/history/{prompt_id}").json() == {}  # still "running"
        deadline = time.monotonic() + 10
        while not (entry := c.get(f"/history/{prompt_id}").json()):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        image = entry[prompt_id]["outputs"]["9"]["images"][0]
        r = c.get("/view", params={"filename": image["filename"], "type": "output"})
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert r.content.startswith(b"\x89PNG")
        assert c.get("/view", params={"filename": "nope.png"}).status_code == 404


def test_invalid_workflow_reports_node_errors(comfyui_url):
    body = httpx.post(f"{comfyui_url}/prompt", json={"prompt": {"1": {"inputs": {}}}}).json()
    assert body["prompt_id"] is None
    assert "1" in body["node_errors"]


def test_stats_and_health(comfyui_url):
    assert httpx.get(f"{comfyui_url}/system_stats").json()["system"]["comfyui_version"] == "mock"
    assert httpx.get(f"{comfyui_url}/health").json()["status"] == "ok"
