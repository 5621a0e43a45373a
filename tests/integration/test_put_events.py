"""PutEvents as AWS answers it (reference §4; LocalStack's AWS-recorded test_events snapshots):
request-level validation, per-entry errors in request order, unknown buses accepted and dropped, and the
acknowledgement only after the events are durable (restart and kill -9 keep their deliveries)."""

import json
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, assert_error, bus_arn, uniq


def metric(node, name, **labels):
    text = urllib.request.urlopen(f"{node.endpoint}/metrics", timeout=5).read().decode()
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if line.startswith(name + "{" if want else name + " ") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_accepts_and_returns_ids_in_order(events):
    r = events.put_events(Entries=[
        {"Source": "shop", "DetailType": "order", "Detail": '{"a": 1}'},
        {"Source": "shop", "DetailType": "order", "Detail": "NotJSON"},
        {"DetailType": "order", "Detail": "{}"},
        {"Source": "shop", "Detail": "{}"},
        {"Source": "shop", "DetailType": "order"},
        {"Source": "aws.s3", "DetailType": "order", "Detail": "{}"},
        {"Source": "shop", "DetailType": "order", "Detail": "{}", "Time": 1640995200, "Resources": ["r1"]},
    ])
    assert r["FailedEntryCount"] == 5
    e = r["Entries"]
    assert set(e[0]) == {"EventId"} and len(e[0]["EventId"]) == 36
    assert e[1] == {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    assert e[2] == {"ErrorCode": "InvalidArgument",
                    "ErrorMessage": "Parameter Source is not valid. Reason: Source is a required argument."}
    assert e[3] == {"ErrorCode": "InvalidArgument",
                    "ErrorMessage": "Parameter DetailType is not valid. Reason: DetailType is a required argument."}
    assert e[4] == {"ErrorCode": "InvalidArgument",
                    "ErrorMessage": "Parameter Detail is not valid. Reason: Detail is a required argument."}
    assert e[5]["ErrorCode"] == "NotAuthorizedForSourceException"
    assert set(e[6]) == {"EventId"}
    assert e[0]["EventId"] != e[6]["EventId"]


@pytest.mark.parametrize("detail", ["NotJSON", "[]", "{{}", '"NotJSON"', "1", "{\"a\":}", "{\"a\":1,}", "{} {}"])
def test_malformed_detail(events, detail):
    r = events.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": detail}])
    assert r["Entries"] == [{"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}]


def test_too_many_entries(events):
    entries = [{"Source": "core.x", "DetailType": "core.x", "Detail": '{"command": "x"}', "EventBusName": "b"}] * 11
    msg = assert_error(events.put_events, "ValidationException", Entries=entries)["Error"]["Message"]
    assert msg.startswith("1 validation error detected: Value '[PutEventsRequestEntry(time=null, source=core.x, "
                          "resources=null, detailType=core.x, detail={\"command\": \"x\"}, eventBusName=b, "
                          "traceHeader=null, kmsKeyIdentifier=null, internalMetadata=null), ")
    assert msg.endswith("]' at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10")


def test_empty_entries(events_nv):
    assert_error(events_nv.put_events, "ValidationException",
                 "1 validation error detected: Value '[]' at 'entries' failed to satisfy constraint: "
                 "Member must have length greater than or equal to 1", Entries=[])


def test_total_size_limit(events):
    big = json.dumps({"x": "a" * 262000})
    assert_error(events.put_events, "ValidationException", "Total size of the entries in the request is over the limit.",
                 Entries=[{"Source": "s", "DetailType": "d", "Detail": big},
                          {"Source": "s", "DetailType": "d", "Detail": json.dumps({"y": "b" * 200})}])
    # exactly at the limit is accepted: 14 (Time) + Source (1) + DetailType (1) + Detail
    detail = '{"x":"' + "a" * (262144 - 14 - 1 - 1 - 8) + '"}'
    assert 14 + 1 + 1 + len(detail) == 262144
    r = events.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": detail, "Time": 1640995200}])
    assert r["FailedEntryCount"] == 0
    detail = detail[:6] + "a" + detail[6:]
    assert_error(events.put_events, "ValidationException", "Total size of the entries in the request is over the limit.",
                 Entries=[{"Source": "s", "DetailType": "d", "Detail": detail, "Time": 1640995200}])


def test_bad_event_bus_name(events):
    assert_error(events.put_events, "ValidationException",
                 contains="at 'entries.1.member.eventBusName' failed to satisfy constraint: Member must satisfy regular expression pattern",
                 Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}", "EventBusName": "bad name!"}])


def test_unknown_bus_is_accepted_and_dropped(node, events):
    before = metric(node, "busbar_put_events_unknown_bus_total")
    r = events.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}", "EventBusName": uniq("nobus")}])
    assert r["FailedEntryCount"] == 0 and "EventId" in r["Entries"][0]
    assert metric(node, "busbar_put_events_unknown_bus_total") == before + 1


def test_bus_by_arn_and_metrics(node, events):
    bus = uniq("bus")
    events.create_event_bus(Name=bus)
    r = events.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}", "EventBusName": bus_arn(bus)},
                                   {"Source": "s", "DetailType": "d", "Detail": "{}", "EventBusName": bus}])
    assert r["FailedEntryCount"] == 0
    assert metric(node, "busbar_put_events_entries_total", account=ACCOUNT, bus=bus) == 2


def test_another_accounts_bus_is_refused(events):
    arn = f"arn:aws:events:{REGION}:111111111111:event-bus/default"
    r = events.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}", "EventBusName": arn}])
    assert r["FailedEntryCount"] == 1 and r["Entries"][0]["ErrorCode"] == "AccessDeniedException"


def test_cli_put_events(aws):
    out = aws.ok("events", "put-events", "--entries",
              json.dumps([{"Source": "cli", "DetailType": "t", "Detail": "{\"k\": [1, 2.50, 1e400]}"}]))
    assert out["FailedEntryCount"] == 0


def test_matched_rule_counts(node, events):
    bus = uniq("mbus")
    events.create_event_bus(Name=bus)
    events.put_rule(Name="big", EventBusName=bus, EventPattern=json.dumps({"detail": {"n": [{"numeric": [">", 10]}]}}))
    events.put_rule(Name="off", EventBusName=bus, EventPattern=json.dumps({"source": ["s"]}), State="DISABLED")
    events.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": json.dumps({"n": n}), "EventBusName": bus}
                               for n in (5, 11, 12)])
    assert metric(node, "busbar_matched_events_total", bus=bus, rule="big") == 2
    assert metric(node, "busbar_matched_events_total", bus=bus, rule="off") == 0
    # a rule change is effective for the next event
    events.enable_rule(Name="off", EventBusName=bus)
    events.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}", "EventBusName": bus}])
    assert metric(node, "busbar_matched_events_total", bus=bus, rule="off") == 1
