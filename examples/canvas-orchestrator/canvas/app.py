"""A stand-in for the Canvas service: its health route, which also asks
the Orchestrator beside it in the task (on 127.0.0.1, as in awsvpc), and
the names of the secrets it was given."""

import json
import os
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ORCHESTRATOR = os.environ.get("ORCHESTRATOR_URL", "http://127.0.0.1:8080")
SECRETS = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "SUPABASE_KEY", "SUPABASE_URL"]


def orchestrator() -> str:
    try:
        with urllib.request.urlopen(f"{ORCHESTRATOR}/health", timeout=2) as r:
            return "ok" if r.status == 200 else f"status {r.status}"
    except OSError as e:
        return f"unreachable: {e}"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            body = {"status": "ok", "service": "canvas", "orchestrator": orchestrator()}
        elif self.path == "/config":
            body = {
                "secrets": [s for s in SECRETS if os.environ.get(s)],
                "bucket": os.environ.get("S3_BUCKET_NAME", ""),
            }
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "9000"))), Handler).serve_forever()
