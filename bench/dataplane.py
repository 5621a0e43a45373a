#!/usr/bin/python3
"""bench/dataplane.py — data-plane figures that need a whole setup around `busbar-bench ingest`.

    bench/dataplane.py e2e     [--build build] [--rate 10000] [--seconds 10]
    bench/dataplane.py backlog [--build build] [--events 1000000]
    bench/dataplane.py ingest  [--build build] [--clients 16] [--seconds 10] [--rate 0]

Each mode starts a fresh release `busbar dev` on a temporary data dir (and, for e2e, a second node used as an
HTTP sink: its GET /health answers 200 in microseconds, so the sink is not the bottleneck), creates what it
needs with boto3, drives load with `busbar-bench ingest`, and prints one `key=value` line.

  e2e      a rule with two targets — an API destination (HTTP GET to the sink) and a built-in queue; publishes
           at --rate and reads publish-to-delivery latency from the node's busbar_delivery_latency_seconds
           histogram (per target; percentiles interpolated inside histogram buckets).
  backlog  a rule whose only target is an API destination on a closed port (every attempt fails, retries are
           spread over hours): publishes --events events and prints the node's VmRSS / RssAnon / RssFile.
  ingest   no rules; the plain `busbar-bench ingest` figure on a fresh node.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3
import botocore.config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Node:
    def __init__(self, build, extra=()):
        self.dir = tempfile.mkdtemp(prefix="bb-bench-")
        self.port = free_port()
        self.proc = subprocess.Popen([os.path.join(build, "busbar"), "dev", "--data-dir", self.dir + "/data",
                                      "--listen", f"127.0.0.1:{self.port}", "--raft-listen",
                                      f"127.0.0.1:{free_port()}", "--log-level", "error", *extra],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ready", timeout=1)
                return
            except Exception:
                time.sleep(0.05)
        raise SystemExit("node did not start")

    def client(self, service="events"):
        return boto3.client(service, endpoint_url=f"http://127.0.0.1:{self.port}", region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test",
                            config=botocore.config.Config(retries={"max_attempts": 3}))

    def metrics(self):
        return urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10).read().decode()

    def rss(self):
        out = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "RssAnon", "RssFile"):
                    out[k] = int(v.split()[0]) // 1024
        return out

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def ingest(build, node, clients, seconds, rate=0):
    out = subprocess.run([os.path.join(build, "busbar-bench"), "ingest", "--endpoint", f"127.0.0.1:{node.port}",
                          "--clients", str(clients), "--seconds", str(seconds), "--rate", str(rate)],
                         capture_output=True, text=True, check=True).stdout.strip()
    return out


def api_destination(ev, url, method="POST", rate=None):
    conn = ev.create_connection(Name="bench", AuthorizationType="API_KEY",
                                AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}})
    kw = {"InvocationRateLimitPerSecond": rate} if rate else {}
    return ev.create_api_destination(Name="bench", ConnectionArn=conn["ConnectionArn"], InvocationEndpoint=url,
                                     HttpMethod=method, **kw)["ApiDestinationArn"]


def hist_quantiles(text, metric, target):
    buckets = []
    for line in text.splitlines():
        m = re.match(rf'{metric}_bucket{{.*target="{target}".*le="([^"]+)"}} (\S+)', line)
        if m:
            buckets.append((float("inf") if m.group(1) == "+Inf" else float(m.group(1)), float(m.group(2))))
    total = buckets[-1][1] if buckets else 0

    def q(p):
        want, prev_le, prev_c = p * total, 0.0, 0.0
        for le, c in buckets:
            if c >= want:
                if le == float("inf"):
                    return prev_le * 1000
                frac = (want - prev_c) / (c - prev_c) if c > prev_c else 1.0
                return (prev_le + (le - prev_le) * frac) * 1000
            prev_le, prev_c = le, c
        return 0.0
    return total, q(0.5), q(0.99)


def mode_e2e(a):
    sink = Node(a.build)
    node = Node(a.build)
    try:
        ev, sqs = node.client(), node.client("sqs")
        qurl = sqs.create_queue(QueueName="bench")["QueueUrl"]
        qarn = sqs.get_queue_attributes(QueueUrl=qurl, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        dest = api_destination(ev, f"http://127.0.0.1:{sink.port}/health", method="GET", rate=1000000)
        ev.put_rule(Name="all", EventPattern=json.dumps({"source": ["bench"]}))
        ev.put_targets(Rule="all", Targets=[{"Id": "http", "Arn": dest}, {"Id": "queue", "Arn": qarn}])
        line = ingest(a.build, node, a.clients, a.seconds, a.rate)
        time.sleep(2)
        text = node.metrics()
        parts = [line.replace("mode=ingest", "mode=e2e")]
        for t in ("http", "queue"):
            n, p50, p99 = hist_quantiles(text, "busbar_delivery_latency_seconds", t)
            parts.append(f"{t}_delivered={n:.0f} {t}_delivered_per_s={n / a.seconds:.0f} {t}_p50_ms={p50:.2f} {t}_p99_ms={p99:.2f}")
        print(" ".join(parts))
    finally:
        node.stop()
        sink.stop()


def mode_backlog(a):
    node = Node(a.build)
    try:
        ev = node.client()
        dead = free_port()  # nothing listens there: every attempt is refused
        dest = api_destination(ev, f"http://127.0.0.1:{dead}/", rate=1000000)
        ev.put_rule(Name="all", EventPattern=json.dumps({"source": ["bench"]}))
        ev.put_targets(Rule="all", Targets=[{"Id": "dead", "Arn": dest}])
        before = node.rss()
        t0, total = time.time(), 0
        while total < a.events:
            line = ingest(a.build, node, a.clients, 5)
            total += int(float(re.search(r"acked_events_per_s=(\S+)", line).group(1)) *
                         float(re.search(r"seconds=(\S+)", line).group(1)))
        time.sleep(3)
        text = node.metrics()
        backlog = sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith("busbar_target_backlog{"))
        after = node.rss()
        print(f"mode=backlog events={total} ingest_s={time.time() - t0:.1f} backlog={backlog:.0f} "
              f"rss_before_mb={before['VmRSS']} rss_mb={after['VmRSS']} rss_anon_mb={after['RssAnon']} "
              f"rss_file_mb={after['RssFile']}")
    finally:
        node.stop()


def mode_ingest(a):
    node = Node(a.build)
    try:
        print(ingest(a.build, node, a.clients, a.seconds, a.rate))
    finally:
        node.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["e2e", "backlog", "ingest"])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rate", type=float, default=0)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--events", type=int, default=1000000)
    a = ap.parse_args()
    if a.mode == "e2e" and not a.rate:
        a.rate = 10000
    {"e2e": mode_e2e, "backlog": mode_backlog, "ingest": mode_ingest}[a.mode](a)


if __name__ == "__main__":
    sys.exit(main())
