#!/usr/bin/python3
"""A local webhook for the README walkthrough: prints every request Busbar delivers.

    scripts/webhook.py [--port 9000] [--status 200]

While it runs, `curl -X POST localhost:9000/_status/503` makes it answer 503 from then on (to watch retries and
the dead-letter queue fill), `curl -X POST localhost:9000/_status/200` heals it.
"""
import argparse
import http.server
import json
import sys
import time

STATE = {"status": 200}


class Hook(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self, status, body=b"{}"):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path.startswith("/_status/"):
            STATE["status"] = int(self.path.rsplit("/", 1)[1])
            print(f"-- now answering {STATE['status']}", flush=True)
            return self._answer(200)
        status = STATE["status"]
        try:
            shown = json.dumps(json.loads(body), separators=(",", ":"))
        except ValueError:
            shown = body.decode("utf-8", "replace")
        print(f"{time.strftime('%H:%M:%S')} {self.command} {self.path} -> {status}  {shown[:300]}", flush=True)
        self._answer(status)

    do_PUT = do_PATCH = do_GET = do_DELETE = do_POST


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=9000)
    ap.add_argument("--status", type=int, default=200)
    a = ap.parse_args()
    STATE["status"] = a.status
    http.server.ThreadingHTTPServer.request_queue_size = 512
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Hook)
    print(f"webhook on http://127.0.0.1:{a.port} answering {a.status}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
