"""Accepts connections on the Temporal frontend's port and closes them."""
import signal
import socket
import sys

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
server = socket.create_server(("0.0.0.0", 7233), reuse_port=True)
print("temporal stand-in: frontend listening on :7233", flush=True)
while True:
    conn, _ = server.accept()
    conn.close()
