"""Tags on buses and rules: TagResource, UntagResource, ListTagsForResource, and Tags on CreateEventBus/PutRule.

Reference: shared/reference/eventbridge-api.md §2.1 row Tag/Untag/ListTagsForResource, Appendix A3/A4 (Tag).
"""

import pytest

from conftest import MAX_LEN, MIN_LEN, NOT_NULL, assert_error, bus_arn, call_error, rule_arn, uniq, validation_msg

PAT = '{"source": ["shop"]}'


def tags_of(events, arn):
    return sorted((t["Key"], t["Value"]) for t in events.list_tags_for_resource(ResourceARN=arn)["Tags"])


@pytest.fixture(scope="module")
def bus(events):
    name = uniq("tagbus")
    events.create_event_bus(Name=name)
    return name


def test_tags_on_create_event_bus(events):
    name = uniq("tb")
    events.create_event_bus(Name=name, Tags=[{"Key": "team", "Value": "orders"}, {"Key": "empty", "Value": ""}])
    assert tags_of(events, bus_arn(name)) == [("empty", ""), ("team", "orders")]


def test_tag_untag_bus(events, bus):
    arn = bus_arn(bus)
    r = events.tag_resource(ResourceARN=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    assert [k for k in r if k != "ResponseMetadata"] == []
    assert tags_of(events, arn) == [("a", "1"), ("b", "2")]
    events.tag_resource(ResourceARN=arn, Tags=[{"Key": "a", "Value": "overwritten"}, {"Key": "c", "Value": "3"}])
    assert tags_of(events, arn) == [("a", "overwritten"), ("b", "2"), ("c", "3")]
    r = events.untag_resource(ResourceARN=arn, TagKeys=["b", "not-there"])
    assert [k for k in r if k != "ResponseMetadata"] == []
    assert tags_of(events, arn) == [("a", "overwritten"), ("c", "3")]
    events.untag_resource(ResourceARN=arn, TagKeys=["a", "c"])
    assert tags_of(events, arn) == []


def test_tag_keys_are_case_sensitive(events):
    name = uniq("tb")
    events.create_event_bus(Name=name)
    events.tag_resource(ResourceARN=bus_arn(name), Tags=[{"Key": "Env", "Value": "1"}, {"Key": "env", "Value": "2"}])
    assert tags_of(events, bus_arn(name)) == [("Env", "1"), ("env", "2")]


def test_tags_on_put_rule_default_bus(events):
    name = uniq("tr")
    events.put_rule(Name=name, EventPattern=PAT, Tags=[{"Key": "k", "Value": "v"}])
    assert tags_of(events, rule_arn(name)) == [("k", "v")]
    events.tag_resource(ResourceARN=rule_arn(name), Tags=[{"Key": "k2", "Value": "v2"}])
    assert tags_of(events, rule_arn(name)) == [("k", "v"), ("k2", "v2")]
    events.untag_resource(ResourceARN=rule_arn(name), TagKeys=["k"])
    assert tags_of(events, rule_arn(name)) == [("k2", "v2")]


def test_tags_on_rule_custom_bus(events, bus):
    name = uniq("tr")
    arn = events.put_rule(Name=name, EventPattern=PAT, EventBusName=bus)["RuleArn"]
    assert arn == rule_arn(name, bus)
    events.tag_resource(ResourceARN=arn, Tags=[{"Key": "x", "Value": "y"}])
    assert tags_of(events, arn) == [("x", "y")]
    # a rule of the same name on the default bus is another resource
    events.put_rule(Name=name, EventPattern=PAT)
    assert tags_of(events, rule_arn(name)) == []


def test_rule_tags_survive_put_rule_update(events):
    # PutRule on an existing name is an update (upsert) — the rule's tags stay.
    name = uniq("tr")
    events.put_rule(Name=name, EventPattern=PAT)
    events.tag_resource(ResourceARN=rule_arn(name), Tags=[{"Key": "keep", "Value": "me"}])
    events.put_rule(Name=name, EventPattern='{"source": ["changed"]}')
    assert tags_of(events, rule_arn(name)) == [("keep", "me")]


def test_tags_go_with_deleted_rule(events):
    name = uniq("tr")
    events.put_rule(Name=name, EventPattern=PAT, Tags=[{"Key": "old", "Value": "1"}])
    events.delete_rule(Name=name)
    assert_error(events.list_tags_for_resource, "ResourceNotFoundException",
                 f"Rule {name} does not exist on EventBus default.", ResourceARN=rule_arn(name))
    events.put_rule(Name=name, EventPattern=PAT)
    assert tags_of(events, rule_arn(name)) == []


def test_tags_go_with_deleted_bus(events):
    name = uniq("tb")
    events.create_event_bus(Name=name, Tags=[{"Key": "old", "Value": "1"}])
    events.delete_event_bus(Name=name)
    assert_error(events.list_tags_for_resource, "ResourceNotFoundException", f"Event bus {name} does not exist.",
                 ResourceARN=bus_arn(name))
    events.create_event_bus(Name=name)
    assert tags_of(events, bus_arn(name)) == []


@pytest.mark.parametrize("op,extra", [
    ("list_tags_for_resource", {}),
    ("tag_resource", {"Tags": [{"Key": "k", "Value": "v"}]}),
    ("untag_resource", {"TagKeys": ["k"]}),
])
def test_unknown_resources(events, bus, op, extra):
    fn = getattr(events, op)
    r = uniq("ghost")
    assert_error(fn, "ResourceNotFoundException", f"Rule {r} does not exist on EventBus default.",
                 ResourceARN=rule_arn(r), **extra)
    assert_error(fn, "ResourceNotFoundException", f"Rule {r} does not exist on EventBus {bus}.",
                 ResourceARN=rule_arn(r, bus), **extra)
    assert_error(fn, "ResourceNotFoundException", f"Event bus {r} does not exist.", ResourceARN=bus_arn(r), **extra)


def test_tag_on_default_bus(events):
    # Tagging the default bus is allowed on AWS; keep the key unique so other tests are unaffected.
    k = uniq("k")
    events.tag_resource(ResourceARN=bus_arn("default"), Tags=[{"Key": k, "Value": "v"}])
    assert (k, "v") in tags_of(events, bus_arn("default"))
    events.untag_resource(ResourceARN=bus_arn("default"), TagKeys=[k])
    assert (k, "v") not in tags_of(events, bus_arn("default"))


def test_tag_constraints(events, events_nv):
    name = uniq("tb")
    events.create_event_bus(Name=name, Tags=[{"Key": "pre", "Value": "existing"}])
    arn = bus_arn(name)
    k = "k" * 129
    assert_error(events.tag_resource, "ValidationException", validation_msg((k, "tags.1.member.key", MAX_LEN(128))),
                 ResourceARN=arn, Tags=[{"Key": k, "Value": "v"}])
    v = "v" * 257
    assert_error(events.tag_resource, "ValidationException",
                 validation_msg((v, "tags.2.member.value", MAX_LEN(256))), ResourceARN=arn,
                 Tags=[{"Key": "ok", "Value": "ok"}, {"Key": "k", "Value": v}])
    assert_error(events_nv.tag_resource, "ValidationException", ResourceARN=arn, Tags=[{"Key": "", "Value": "v"}],
                 contains=f"Value '' at 'tags.1.member.key' failed to satisfy constraint: {MIN_LEN(1)}")
    assert_error(events_nv.tag_resource, "ValidationException",
                 validation_msg((None, "tags.1.member.value", NOT_NULL)), ResourceARN=arn, Tags=[{"Key": "k"}])
    assert_error(events_nv.tag_resource, "ValidationException", validation_msg((None, "tags", NOT_NULL)),
                 ResourceARN=arn)
    assert_error(events_nv.tag_resource, "ValidationException", validation_msg((None, "resourceARN", NOT_NULL)),
                 Tags=[{"Key": "k", "Value": "v"}])
    long = "arn:" + "a" * 1597
    assert_error(events.tag_resource, "ValidationException", validation_msg((long, "resourceARN", MAX_LEN(1600))),
                 ResourceARN=long, Tags=[{"Key": "k", "Value": "v"}])
    # the failed calls changed nothing
    assert tags_of(events, arn) == [("pre", "existing")]


def test_untag_constraints(events, events_nv, bus):
    arn = bus_arn(bus)
    assert_error(events_nv.untag_resource, "ValidationException", validation_msg((None, "tagKeys", NOT_NULL)),
                 ResourceARN=arn)
    # list item constraint (key ≤ 128): the reference gives no text for list members; require the member path
    assert_error(events.untag_resource, "ValidationException", ResourceARN=arn, TagKeys=["k" * 129],
                 startswith="1 validation error detected: ", contains="'tagKeys")


def test_list_tags_constraints(events_nv):
    assert_error(events_nv.list_tags_for_resource, "ValidationException",
                 validation_msg((None, "resourceARN", NOT_NULL)))
    assert_error(events_nv.list_tags_for_resource, "ValidationException", ResourceARN="",
                 contains=f"Value '' at 'resourceARN' failed to satisfy constraint: {MIN_LEN(1)}")


def test_malformed_arn(events):
    # Not in the reference: an ARN that names no EventBridge resource of ours is a client error (400).
    for arn in ("not-an-arn", "arn:aws:sqs:us-east-1:000000000000:q"):
        resp = call_error(events.list_tags_for_resource, ResourceARN=arn)
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 400, resp
        assert resp["Error"]["Code"] in ("ValidationException", "ResourceNotFoundException"), resp
