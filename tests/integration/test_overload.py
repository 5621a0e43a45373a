"""Overload answers ThrottlingException instead of queueing without bound (issue 2, item 4).

A request holds one of the node's --max-inflight slots from its headers until it completes, so a client
that sends headers and only part of its body keeps a slot busy. With --max-inflight 1 that makes the
overload deterministic: the next request is throttled, and once the slow request finishes the slot is free.
Oversized bodies get HTTP 413 without being buffered.
"""

import json
import socket
import time

import pytest

from conftest import BusbarNode, sigv4_headers, send_raw


@pytest.fixture
def tight_node(tmp_path):
    n = BusbarNode(tmp_path, extra_args=["--max-inflight", "1", "--max-body-bytes", "4096"])
    n.start()
    yield n
    n.stop()


def _signed(node, op, payload):
    body = json.dumps(payload).encode()
    return body, sigv4_headers(host=node.host_header, body=body, target=f"AWSEvents.{op}")


def test_throttled_while_a_slow_request_holds_the_only_slot(tight_node):
    body, headers = _signed(tight_node, "ListEventBuses", {})
    slow = socket.create_connection(("127.0.0.1", tight_node.port), timeout=10)
    try:
        head = "POST / HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += f"Content-Length: {len(body)}\r\n\r\n"
        slow.sendall(head.encode() + body[:1])  # headers and one byte: the request is now in flight
        time.sleep(0.3)
        b2, h2 = _signed(tight_node, "ListEventBuses", {})
        resp = send_raw(tight_node.port, headers=h2, body=b2)
        assert resp.status == 400
        assert resp.error_type == "ThrottlingException"
        assert resp.message == "Rate exceeded"
        slow.sendall(body[1:])  # finish the slow request: it is answered normally
        data = slow.recv(65536)
        assert data.startswith(b"HTTP/1.1 200")
    finally:
        slow.close()
    # the slot is released when the slow request completes
    for _ in range(50):
        b3, h3 = _signed(tight_node, "ListEventBuses", {})
        resp = send_raw(tight_node.port, headers=h3, body=b3)
        if resp.status == 200:
            break
        time.sleep(0.1)
    assert resp.status == 200, resp


def test_body_over_the_limit_is_413(tight_node):
    body, headers = _signed(tight_node, "CreateEventBus", {"Name": "x", "Description": "d" * 5000})
    resp = send_raw(tight_node.port, headers=headers, body=body)
    assert resp.status == 413
    assert resp.error_type == "RequestEntityTooLargeException"
