"""A ComfyUI client: submit a prompt workflow, poll its history, fetch the image.

The same calls a real ComfyUI server answers (``POST /prompt``,
``GET /history/{id}``, ``GET /view``), so the mock can be swapped for the
real thing by changing ``COMFYUI_URL``.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import httpx

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class ComfyUIUnavailable(Exception):
    """The server could not be reached or answered 5xx: worth retrying."""


class ComfyUIError(Exception):
    """The server refused or failed the job: retrying will not help."""


@dataclass(frozen=True)
class GeneratedImage:
    filename: str
    ref: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def workflow(prompt: str, size: str, checkpoint: str, seed: int) -> dict[str, Any]:
    """A minimal text-to-image workflow in ComfyUI's API format."""
    width, height = (int(x) for x in size.split("x"))
    return {
        "3": {
            "class_type": "KSampler",
            "inputs": {
                "seed": seed,
                "steps": 20,
                "cfg": 7.0,
                "sampler_name": "euler",
                "scheduler": "normal",
                "denoise": 1.0,
                "model": ["4", 0],
                "positive": ["6", 0],
                "negative": ["7", 0],
                "latent_image": ["5", 0],
            },
        },
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": checkpoint}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": width, "height": height, "batch_size": 1}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": prompt, "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "genonaut", "images": ["8", 0]}},
    }


class ComfyUIClient:
    def __init__(
        self,
        base_url: str,
        request_timeout: float = 10,
        poll_interval: float = 0.5,
        job_timeout: float = 120,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.poll_interval = poll_interval
        self.job_timeout = job_timeout
        self._sleep = sleep
        self._http = httpx.Client(base_url=self.base_url, timeout=request_timeout)
        self.client_id = str(uuid.uuid4())

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as e:
            raise ComfyUIUnavailable(f"{method} {self.base_url}{path}: {type(e).__name__}: {e}") from e
        if response.status_code >= 500:
            raise ComfyUIUnavailable(f"{method} {path} answered {response.status_code}")
        if response.status_code >= 400:
            raise ComfyUIError(f"{method} {path} answered {response.status_code}: {response.text[:300]}")
        return response

    def submit(self, graph: dict[str, Any]) -> str:
        body = self._request("POST", "/prompt", json={"prompt": graph, "client_id": self.client_id}).json()
        if body.get("node_errors"):
            raise ComfyUIError(f"workflow rejected: {body['node_errors']}")
        prompt_id = body.get("prompt_id")
        if not prompt_id:
            raise ComfyUIError(f"no prompt_id in answer: {body}")
        return str(prompt_id)

    def wait(self, prompt_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.job_timeout
        while True:
            history = self._request("GET", f"/history/{prompt_id}").json()
            entry = history.get(prompt_id)
            if entry:
                status = entry.get("status", {})
                if status.get("status_str") == "error":
                    raise ComfyUIError(f"generation failed: {status.get('messages')}")
                if status.get("completed", True) and entry.get("outputs"):
                    return entry
            if time.monotonic() >= deadline:
                raise ComfyUIError(f"prompt {prompt_id} did not finish within {self.job_timeout:g} s")
            self._sleep(self.poll_interval)

    def fetch(self, image: dict[str, str]) -> bytes:
        params = {
            "filename": image["filename"],
            "subfolder": image.get("subfolder", ""),
            "type": image.get("type", "output"),
        }
        data = self._request("GET", "/view", params=params).content
        if not data.startswith(PNG_MAGIC):
            raise ComfyUIError(f"/view returned {len(data)} bytes that are not a PNG")
        return data

    def generate(self, prompt: str, size: str, checkpoint: str, seed: int) -> GeneratedImage:
        prompt_id = self.submit(workflow(prompt, size, checkpoint, seed))
        entry = self.wait(prompt_id)
        images = [img for out in entry["outputs"].values() for img in out.get("images", [])]
        if not images:
            raise ComfyUIError(f"prompt {prompt_id} finished without images")
        first = images[0]
        data = self.fetch(first)
        ref = f"{self.base_url}/view?filename={first['filename']}&type={first.get('type', 'output')}"
        return GeneratedImage(filename=first["filename"], ref=ref, data=data)
