"""The Celery worker and its ComfyUI client."""
