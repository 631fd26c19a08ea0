"""Genonaut: an image-generation backend in three roles from one image.

The roles are chosen by command, not by image:

- ``uvicorn genonaut.api.main:app``: the HTTP API (port 8001)
- ``celery -A genonaut.worker.queue_app:celery_app worker``: the job worker
- ``python -m genonaut.mock_comfyui``: a mock ComfyUI server (port 8189)
- ``python -m genonaut.migrate``: create or update the database schema
"""

__version__ = "0.1.0"
