"""A stand-in for the Orchestrator: its health route and the queues it
would take work from."""

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            body = {"status": "ok", "service": "orchestrator"}
        elif self.path == "/queues":
            body = {
                "gpu": os.environ.get("GPU_QUEUE_NAME", ""),
                "cpu": os.environ.get("CPU_QUEUE_NAME", ""),
                "table": os.environ.get("DYNAMODB_TABLE_NAME", ""),
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
    ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler).serve_forever()
