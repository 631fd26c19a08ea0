"""A mock ComfyUI server for local stacks and tests."""
