"""A real HTTP server on loopback that records what Busbar delivers (webhook sink for API destinations).

`Sink()` starts a ThreadingHTTPServer on 127.0.0.1:<free port>; every request is appended to `sink.requests`
as a dict (method, path, headers, body, t = time.monotonic()). `sink.plan` decides the status of each answer:
a list of statuses consumed in order (then `sink.default`), or set `sink.delay_s` to answer slowly.
`sink.answer`, if set, is called with each request's dict and returns (status, body bytes) instead
(e.g. an OAuth token endpoint).
"""

import http.server
import json
import threading
import time


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _handle(self):
        sink = self.server.sink
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        req = {"method": self.command, "path": self.path, "headers": dict(self.headers),
               "body": body.decode("utf-8", "replace"), "t": time.monotonic()}
        out = b"{}"
        with sink.lock:
            status = sink.plan.pop(0) if sink.plan else sink.default
            delay = sink.delay_s
            answer = sink.answer
        if answer:
            status, out = answer(req)
        if delay:
            time.sleep(delay)
        with sink.lock:
            req["status"] = status
            sink.requests.append(req)
            sink.cv.notify_all()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_POST = do_PUT = do_PATCH = do_GET = do_DELETE = _handle


class _Server(http.server.ThreadingHTTPServer):
    request_queue_size = 512  # the default backlog (5) drops SYNs when many deliveries connect at once
    daemon_threads = True


class Sink:
    def __init__(self, default=200):
        self.requests = []
        self.plan = []
        self.default = default
        self.delay_s = 0
        self.answer = None
        self.lock = threading.Lock()
        self.cv = threading.Condition(self.lock)
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.sink = self
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def wait_for(self, count, timeout=20.0, status=None):
        """Waits until `count` requests (with that answer status, if given) arrived; returns them."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                got = [r for r in self.requests if status is None or r["status"] == status]
                if len(got) >= count or time.monotonic() >= deadline:
                    return list(got)
                self.cv.wait(timeout=max(0.01, deadline - time.monotonic()))

    def bodies(self):
        with self.lock:
            return [json.loads(r["body"]) if r["body"] else None for r in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
