"""Delivery end to end against real local HTTP servers (API destinations) and built-in queues: the delivered
envelope, retries with backoff and jitter, the attempt cap and the age window, 4xx vs 5xx, DLQ contents and
attributes, counters on /metrics, a slow target not blocking others, bus-to-bus with the one-hop guard."""

import json
import time
import urllib.request

import pytest

from conftest import ACCOUNT, REGION, BusbarNode, bus_arn, make_sqs_client, rule_arn, uniq
from sinks import Sink
from test_put_events import metric

FAST = ["--retry-base-ms", "40", "--retry-max-ms", "400", "--http-timeout-ms", "1500"]


@pytest.fixture(scope="module")
def dnode(tmp_path_factory):
    n = BusbarNode(tmp_path_factory.mktemp("deliver"), FAST)
    n.start()
    yield n
    n.stop()


@pytest.fixture(scope="module")
def ev(dnode):
    return dnode.client()


@pytest.fixture(scope="module")
def sqs(dnode):
    return make_sqs_client(dnode.endpoint)


@pytest.fixture
def sink():
    s = Sink()
    yield s
    s.close()


def api_destination(ev, url, rate=300, method="POST"):
    name = uniq("conn")
    conn = ev.create_connection(Name=name, AuthorizationType="API_KEY",
                                AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key",
                                                                          "ApiKeyValue": "s3cret"}})
    d = ev.create_api_destination(Name=uniq("dest"), ConnectionArn=conn["ConnectionArn"], InvocationEndpoint=url,
                                  HttpMethod=method, InvocationRateLimitPerSecond=rate)
    return d["ApiDestinationArn"]


def make_queue(sqs, name=None):
    url = sqs.create_queue(QueueName=name or uniq("q"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive_all(sqs, url, count, timeout=20):
    got, deadline = [], time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"])
        for m in r.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def rule_with(ev, targets, pattern=None, bus="default"):
    name = uniq("rule")
    src = uniq("src")
    ev.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern or {"source": [src]}))
    r = ev.put_targets(Rule=name, EventBusName=bus, Targets=targets)
    assert r["FailedEntryCount"] == 0, r
    return name, src


def publish(ev, src, details, bus="default"):
    ids = []
    for i in range(0, len(details), 10):
        r = ev.put_events(Entries=[{"Source": src, "DetailType": "t", "Detail": json.dumps(d), "EventBusName": bus}
                                   for d in details[i:i + 10]])
        assert r["FailedEntryCount"] == 0
        ids += [e["EventId"] for e in r["Entries"]]
    return ids


def wait_metric(node, name, want, timeout=10, **labels):
    deadline = time.monotonic() + timeout
    while metric(node, name, **labels) < want and time.monotonic() < deadline:
        time.sleep(0.05)
    assert metric(node, name, **labels) == want


def test_http_delivery_envelope(ev, sink):
    dest = api_destination(ev, sink.url + "/hook")
    rule, src = rule_with(ev, [{"Id": "web", "Arn": dest}])
    [eid] = publish(ev, src, [{"order": 7, "big": 12345678901234567890}])
    [req] = sink.wait_for(1)
    assert req["method"] == "POST" and req["path"] == "/hook"
    assert req["headers"]["x-api-key"] == "s3cret"
    assert req["headers"]["Content-Type"].startswith("application/json")
    assert list(json.loads(req["body"]).keys()) == ["version", "id", "detail-type", "source", "account", "time",
                                                     "region", "resources", "detail"]
    body = json.loads(req["body"])
    assert body["id"] == eid and body["source"] == src and body["account"] == ACCOUNT and body["region"] == REGION
    assert '"big":12345678901234567890' in req["body"]  # numbers reach targets as published


def test_input_constant_and_path(ev, sink):
    dest = api_destination(ev, sink.url)
    rule, src = rule_with(ev, [{"Id": "c", "Arn": dest, "Input": '{"const": true}'},
                               {"Id": "p", "Arn": dest, "InputPath": "$.detail.inner"},
                               {"Id": "x", "Arn": dest, "InputTransformer": {
                                   "InputPathsMap": {"o": "$.detail.inner.o"},
                                   "InputTemplate": '"order <o> via <aws.events.rule-name>"'}}])
    publish(ev, src, [{"inner": {"o": 42}}])
    reqs = sink.wait_for(3)
    bodies = sorted(r["body"] for r in reqs)
    assert '{"const": true}' in bodies or '{"const":true}' in bodies
    assert '{"o":42}' in bodies
    assert f'"order 42 via {rule}"' in bodies


def test_retry_5xx_then_success_with_backoff(dnode, ev, sink):
    sink.plan = [500, 502, 503, 200]
    dest = api_destination(ev, sink.url)
    rule, src = rule_with(ev, [{"Id": "t", "Arn": dest}])
    publish(ev, src, [{"n": 1}])
    reqs = sink.wait_for(4)
    assert [r["status"] for r in reqs] == [500, 502, 503, 200]
    assert len({json.loads(r["body"])["id"] for r in reqs}) == 1  # same event id on every attempt
    wait_metric(dnode, "busbar_invocations_total", 1, rule=rule)
    assert metric(dnode, "busbar_invocation_attempts_total", rule=rule) == 4
    assert metric(dnode, "busbar_failed_invocations_total", rule=rule) == 0


def test_backoff_grows_with_jitter(ev, sink):
    """Many events failing twice: the mean wait before the 2nd retry exceeds the mean before the 1st (exponential),
    and the waits are spread (jitter), each within its cap."""
    sink.default = 500
    dest = api_destination(ev, sink.url)
    rule, src = rule_with(ev, [{"Id": "t", "Arn": dest, "RetryPolicy": {"MaximumRetryAttempts": 2}}])
    ids = publish(ev, src, [{"i": i} for i in range(30)])
    reqs = sink.wait_for(90, timeout=30)
    assert len(reqs) == 90
    by_id = {}
    for r in reqs:
        by_id.setdefault(json.loads(r["body"])["id"], []).append(r["t"])
    g1 = [t[1] - t[0] for t in by_id.values()]
    g2 = [t[2] - t[1] for t in by_id.values()]
    assert set(by_id) == set(ids)
    assert max(g1) <= 0.04 * 1 + 1.0 and max(g2) <= 0.04 * 2 + 1.0  # cap + scheduling slack on a busy machine
    assert sum(g2) / len(g2) > sum(g1) / len(g1)
    assert len({round(g, 3) for g in g1}) > 5  # jittered, not a fixed delay


def test_4xx_not_retried_goes_to_dlq_with_attributes(dnode, ev, sqs, sink):
    sink.default = 400
    qurl, qarn = make_queue(sqs)
    dest = api_destination(ev, sink.url)
    rule, src = rule_with(ev, [{"Id": "t4", "Arn": dest, "DeadLetterConfig": {"Arn": qarn}}])
    [eid] = publish(ev, src, [{"x": 1}])
    [m] = receive_all(sqs, qurl, 1)
    assert len(sink.wait_for(1)) == 1
    time.sleep(0.5)
    assert len(sink.requests) == 1  # not retried
    assert json.loads(m["Body"])["id"] == eid
    attrs = {k: v["StringValue"] for k, v in m["MessageAttributes"].items()}
    assert attrs["RULE_ARN"] == rule_arn(rule) and attrs["TARGET_ARN"] == dest
    assert attrs["RETRY_ATTEMPTS"] == "0" and attrs["ERROR_CODE"] and "400" in attrs["ERROR_MESSAGE"]
    wait_metric(dnode, "busbar_invocations_sent_to_dlq_total", 1, rule=rule)


def test_attempt_cap_ends_retries_into_dlq(dnode, ev, sqs, sink):
    sink.default = 503
    qurl, qarn = make_queue(sqs)
    dest = api_destination(ev, sink.url)
    rule, src = rule_with(ev, [{"Id": "t", "Arn": dest, "DeadLetterConfig": {"Arn": qarn},
                                "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 600}}])
    publish(ev, src, [{"x": 1}])
    [m] = receive_all(sqs, qurl, 1)
    assert len(sink.requests) == 3
    attrs = {k: v["StringValue"] for k, v in m["MessageAttributes"].items()}
    assert attrs["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts" and attrs["RETRY_ATTEMPTS"] == "2"
    wait_metric(dnode, "busbar_target_backlog", 0, rule=rule)
    assert metric(dnode, "busbar_retries_total", rule=rule) == 2


def test_no_dlq_counts_failed_invocations(dnode, ev, sink):
    sink.default = 404
    dest = api_destination(ev, sink.url)
    rule, src = rule_with(ev, [{"Id": "t", "Arn": dest, "RetryPolicy": {"MaximumRetryAttempts": 0}}])
    publish(ev, src, [{"x": 1}, {"x": 2}])
    sink.wait_for(2)
    wait_metric(dnode, "busbar_failed_invocations_total", 2, rule=rule)


def test_slow_target_does_not_block_others(ev, sink):
    slow = Sink()
    slow.delay_s = 1.0
    try:
        rule, src = rule_with(ev, [{"Id": "slow", "Arn": api_destination(ev, slow.url)},
                                   {"Id": "fast", "Arn": api_destination(ev, sink.url)}])
        publish(ev, src, [{"i": i} for i in range(200)])
        # the slow target answers in 1 s with 64 attempts at a time (>= 4 s for 200); the fast one must
        # have everything while the slow one is still working
        assert len(sink.wait_for(200, timeout=15)) == 200
        assert len(slow.requests) < 200, "the fast target waited for the slow one"
    finally:
        slow.close()


def test_queue_target(ev, sqs):
    qurl, qarn = make_queue(sqs)
    rule, src = rule_with(ev, [{"Id": "q", "Arn": qarn}])
    ids = publish(ev, src, [{"i": i} for i in range(15)])
    got = receive_all(sqs, qurl, 15)
    assert sorted(json.loads(m["Body"])["id"] for m in got) == sorted(ids)


def test_bus_target_and_one_hop(ev, sink):
    b2, b3 = uniq("b2"), uniq("b3")
    ev.create_event_bus(Name=b2)
    ev.create_event_bus(Name=b3)
    dest = api_destination(ev, sink.url)
    rule, src = rule_with(ev, [{"Id": "fwd", "Arn": bus_arn(b2)}])
    # on b2: deliver to the sink, and try to forward again to b3 (must not happen: one hop)
    ev.put_rule(Name="onb2", EventBusName=b2, EventPattern=json.dumps({"source": [src]}))
    ev.put_targets(Rule="onb2", EventBusName=b2, Targets=[{"Id": "s", "Arn": dest}, {"Id": "b3", "Arn": bus_arn(b3)}])
    ev.put_rule(Name="onb3", EventBusName=b3, EventPattern=json.dumps({"source": [src]}))
    ev.put_targets(Rule="onb3", EventBusName=b3, Targets=[{"Id": "s", "Arn": dest}])
    [eid] = publish(ev, src, [{"hop": 0}])
    [req] = sink.wait_for(1)
    assert json.loads(req["body"])["id"] == eid  # the event keeps its envelope
    time.sleep(1.0)
    assert len(sink.requests) == 1  # never reached b3's rule


def test_metrics_pass_promtool(dnode):
    import shutil
    import subprocess
    text = urllib.request.urlopen(f"{dnode.endpoint}/metrics", timeout=5).read()
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=30)
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
    for name in ("busbar_matched_events_total", "busbar_invocations_total", "busbar_failed_invocations_total",
                 "busbar_invocations_sent_to_dlq_total", "busbar_invocation_attempts_total",
                 "busbar_throttled_rules_total", "busbar_delivery_latency_seconds_bucket", "busbar_target_backlog"):
        assert name.encode() in text


def test_dead_letter_when_target_bus_is_missing(dnode, ev, sqs):
    """A non-retryable failure (the target bus does not exist) goes straight to the DLQ, without
    EXHAUSTED_RETRY_CONDITION."""
    qurl, qarn = make_queue(sqs)
    rule, src = rule_with(ev, [{"Id": "gone", "Arn": bus_arn(uniq("nobus")), "DeadLetterConfig": {"Arn": qarn}}])
    [eid] = publish(ev, src, [{"x": 1}])
    [m] = receive_all(sqs, qurl, 1)
    assert json.loads(m["Body"])["id"] == eid
    attrs = {k: v["StringValue"] for k, v in m["MessageAttributes"].items()}
    assert attrs["ERROR_CODE"] == "NO_RESOURCE" and attrs["RETRY_ATTEMPTS"] == "0"
    assert "EXHAUSTED_RETRY_CONDITION" not in attrs
    assert attrs["RULE_ARN"] == rule_arn(rule)


def test_missing_dlq_is_counted(dnode, ev):
    rule, src = rule_with(ev, [{"Id": "gone", "Arn": bus_arn(uniq("nobus")),
                                "DeadLetterConfig": {"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{uniq('noq')}"}}])
    publish(ev, src, [{"x": 1}])
    wait_metric(dnode, "busbar_invocations_failed_to_be_sent_to_dlq_total", 1, rule=rule)


def test_queue_depth_on_metrics(dnode, ev, sqs):
    name = uniq("depthq")
    qurl, qarn = make_queue(sqs, name)
    rule, src = rule_with(ev, [{"Id": "q", "Arn": qarn}])
    publish(ev, src, [{"i": i} for i in range(3)])
    labels = {"account": ACCOUNT, "queue": name}
    wait_metric(dnode, "busbar_queue_messages", 3, state="visible", **labels)
    sqs.receive_message(QueueUrl=qurl, MaxNumberOfMessages=1, VisibilityTimeout=60)
    assert metric(dnode, "busbar_queue_messages", state="visible", **labels) == 2
    assert metric(dnode, "busbar_queue_messages", state="in_flight", **labels) == 1
