"""``python -m genonaut.mock_comfyui --host 0.0.0.0 --port 8189``"""

import argparse

import uvicorn


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m genonaut.mock_comfyui")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8189)
    args = parser.parse_args()
    uvicorn.run("genonaut.mock_comfyui.server:app", host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
