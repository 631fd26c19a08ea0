"""`worker ready` once the worker reached Temporal and Redis; exit 1 before."""
import sys

from src.temporal.worker import READY

try:
    with open(READY) as f:
        print(f"worker ready on {f.read()}")
except FileNotFoundError:
    print("worker not ready yet")
    sys.exit(1)
