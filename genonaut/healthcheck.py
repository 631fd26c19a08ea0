"""Container health check without curl: ``python -m genonaut.healthcheck URL``.

Exits 0 when the URL answers 2xx within the timeout, 1 otherwise, printing
why; the slim Python image has no curl, and ECS runs the same command.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genonaut.healthcheck")
    parser.add_argument("url")
    parser.add_argument("--timeout", type=float, default=4.0)
    args = parser.parse_args(argv)
    try:
        with urllib.request.urlopen(args.url, timeout=args.timeout) as response:
            status = response.status
    except urllib.error.HTTPError as e:
        print(f"unhealthy: {args.url} answered {e.code}", file=sys.stderr)
        return 1
    except Exception as e:  # connection refused, timeout, DNS: all mean unhealthy
        print(f"unhealthy: {args.url}: {e}", file=sys.stderr)
        return 1
    if 200 <= status < 300:
        return 0
    print(f"unhealthy: {args.url} answered {status}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
