"""Reaching the API's and worker's dependencies with the standard library:
Postgres and Temporal by a TCP connection, Redis by PING (AUTH first when it
asks for a password)."""
import os
import socket


def tcp(host, port, timeout=2.0):
    with socket.create_connection((host, int(port)), timeout=timeout):
        return "ok"


def redis_ping(host, port, password, timeout=2.0):
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        reply = s.recv(64)
        if reply.startswith(b"-NOAUTH") and password:
            s.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(password), password.encode()))
            s.recv(64)
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            reply = s.recv(64)
        if not reply.startswith(b"+PONG"):
            raise OSError(reply.decode(errors="replace").strip())
        return "ok"


def check_all():
    """Each dependency's state: `ok`, or why not."""
    env = os.environ
    temporal_host, _, temporal_port = env["TEMPORAL_ADDRESS"].rpartition(":")
    checks = {
        "postgres": lambda: tcp(env["POSTGRES_HOST"], env["POSTGRES_PORT"]),
        "redis": lambda: redis_ping(env["REDIS_HOST"], env["REDIS_PORT"], env.get("REDIS_PASSWORD", "")),
        "temporal": lambda: tcp(temporal_host, temporal_port),
    }
    out = {}
    for name, check in checks.items():
        try:
            out[name] = check()
        except OSError as e:
            out[name] = f"unreachable: {e}"
    return out
