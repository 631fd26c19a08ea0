"""The Temporal worker's stand-in: polls its task queue's server (a TCP
connection) and Redis every few seconds, and marks itself ready once both
answered."""
import os
import signal
import sys
import time

from src.probes import check_all

READY = "/tmp/worker-ready"


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    queue = os.environ["TEMPORAL_TASK_QUEUE"]
    while True:
        state = check_all()
        if state["temporal"] == "ok" and state["redis"] == "ok":
            with open(READY, "w") as f:
                f.write(queue)
        print(f"polling {queue}: {state}", flush=True)
        time.sleep(5)


if __name__ == "__main__":
    main()
