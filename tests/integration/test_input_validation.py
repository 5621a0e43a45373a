"""PutTargets validation of Input / InputPath / InputTransformer (boto3), through node/xform.

Reference: shared/reference/eventbridge-api.md §5; docs/transform.md (rules, messages, choices). AWS answers an
invalid target input with a whole-request 400 ValidationException (LocalStack AWS-validated snapshots
test_put_event_input_path_and_input_transformer and test_put_events_with_input_transformer_missing_keys): no
target of the request is stored. Accepted cases reuse every template/path AWS accepted in those snapshots.
"""

import pytest

from conftest import assert_error, uniq

PAT = '{"source": ["core.update-account-command"]}'
ONLY_ONE = "Only one of Input, InputPath, or InputTransformer must be provided for target {}."
BAD_INPUT = "Input for target {} is not a valid JSON text."
BAD_PATH = "InputPath for target {} is not a valid JSON path."
BAD_MAP_PATH = "InputPathsMap for target {} contains an invalid JSON path for key {}."
BAD_PLACEHOLDER = "InputTemplate for target {} contains invalid placeholder {}."

MAP_BASIC = {"detail-type": "$.detail-type", "timestamp": "$.time", "command": "$.detail.command"}
MAP_NESTED = {"userId": "$.detail.payload.acc_id", "payload": "$.detail.payload",
              "systemstring": "$.detail.awsAccountId", "listsingle": "$.detail.listsingle",
              "listmulti": "$.detail.listmulti", "valid": "$.detail.valid"}

# Every template of LocalStack's test_events_inputs.py that AWS accepted at PutTargets, with its paths map.
AWS_TEMPLATES = [
    (MAP_BASIC, '"Event of <detail-type> type, at time <timestamp>, info extracted from detail <command>"'),
    (MAP_BASIC, '"{[/Check with special starting characters for event of <detail-type> type"'),
    (MAP_BASIC, '{"detailType": <detail-type>,  "time": <timestamp>, "command": <command>}'),
    (None, '"Message containing all pre defined variables <aws.events.rule-arn> <aws.events.rule-name> '
           '<aws.events.event.ingestion-time>"'),
    (None, '{"originalEvent": <aws.events.event>, "originalEventJson": <aws.events.event.json>}'),
    (MAP_NESTED, '{"method": "PUT", "path": "users-service/users/<userId>", "bod": <payload>}'),
    (MAP_NESTED, '"Payload of <payload> with path users-service/users/<userId> and <userId>"'),
    (MAP_NESTED, '{"id" : <userId>}'),
    (MAP_NESTED, '{"id" : "<userId>"}'),
    (MAP_NESTED, '{"method": "PUT", "path": "users-service/users/<userId>", "bod": [<userId>, "hardcoded"]}'),
    (MAP_NESTED, '"<listsingle> single list item\"\n\"<listmulti> multiple list items"'),
    (MAP_NESTED, '{"multi_replacement": "users/<userId>/second/<userId>"}'),
    (MAP_NESTED, '"Command is <valid>!"'),
    # accepted at PutTargets although the result is never delivered (object inside quotes)
    (MAP_NESTED, '{"payload": "<payload>"}'),
    (MAP_NESTED, '{"singlelistitem": "<listsingle>"}'),
    # the UG's input-transformer examples
    ({"timestamp": "$.time", "instance": "$.detail.instance-id", "state": "$.detail.state",
      "resource": "$.resources[0]"},
     '{"instance" : <instance>, "state": [ 9, <state>, true ], "Transformed" : "Yes", "r": "<resource>"}'),
    ({"instance": "$.detail.instance", "status": "$.detail.status"},
     '{"myInstance": <instance>,"myStatus": "<instance> is in state \\"<status>\\""}'),
    (None, '"<aws.events.rule-name> triggered"'),
]


def sqs(name="q"):
    return f"arn:aws:sqs:us-east-1:000000000000:{name}"


@pytest.fixture
def rule(events):
    name = uniq("iv")
    events.put_rule(Name=name, EventPattern=PAT)
    return name


def targets_of(events, rule):
    return events.list_targets_by_rule(Rule=rule).get("Targets", [])


def ok_put(events, rule, targets):
    r = events.put_targets(Rule=rule, Targets=targets)
    assert r["FailedEntryCount"] == 0, r
    assert r.get("FailedEntries", []) == [], r


def rejected(events, rule, message, targets):
    assert_error(events.put_targets, "ValidationException", message, Rule=rule, Targets=targets)
    assert targets_of(events, rule) == [], "a rejected PutTargets must store nothing"


def xf(template, paths=None):
    t = {"InputTemplate": template}
    if paths is not None:
        t["InputPathsMap"] = paths
    return t


# ---------------------------------------------------------------------------------------------------------------
# accepted


@pytest.mark.parametrize("paths,template", AWS_TEMPLATES, ids=[f"tmpl{i}" for i in range(len(AWS_TEMPLATES))])
def test_aws_templates_accepted_and_round_trip(events, rule, paths, template):
    target = {"Id": "x", "Arn": sqs(), "InputTransformer": xf(template, paths)}
    ok_put(events, rule, [target])
    assert targets_of(events, rule) == [target]


@pytest.mark.parametrize("path", [
    "$", "$.detail", "$.detail.payload", "$.detail.payload.sf_id", "$.notexisting", "$.doesnotexist",
    "$.resources[0]", "$.detail.items[*].id", "$.detail.*", "$['detail']", '$["detail-type"]', "$.detail.a/b",
    "$.list[-1]",
])
def test_input_paths_accepted(events, rule, path):
    ok_put(events, rule, [{"Id": "p", "Arn": sqs(), "InputPath": path}])
    assert targets_of(events, rule)[0]["InputPath"] == path


@pytest.mark.parametrize("value", [
    '{"target_value":"value"}', '{"test": "async_behavior"}', '{"message": "Hello from EventBridge"}',
    '"just a string"', "42", "true", "null", "[]", ' {"spaced" : [1, 2]} ',
    '{"big": 123456789012345678901234567890, "u": "\\u00e9"}',
])
def test_inputs_accepted(events, rule, value):
    ok_put(events, rule, [{"Id": "i", "Arn": sqs(), "Input": value}])
    assert targets_of(events, rule)[0]["Input"] == value


def test_placeholder_lookalikes_are_text(events, rule):
    # only <name> with name in [A-Za-z0-9_.-] is a placeholder; "<" and ">" elsewhere are plain text
    ok_put(events, rule, [{"Id": "t", "Arn": sqs(), "InputTransformer": xf('"a < b > c, <>, <not a var>, </b>"')}])


def test_map_entries_need_not_be_used(events, rule):
    ok_put(events, rule, [{"Id": "t", "Arn": sqs(),
                           "InputTransformer": xf('"constant"', {"unused": "$.detail", "also": "$.x[3]"})}])


# ---------------------------------------------------------------------------------------------------------------
# rejected: exclusivity and placeholders (texts recorded on AWS)


def test_input_path_and_transformer_snapshot(events, rule):
    # LS test_put_event_input_path_and_input_transformer
    tid = "target-" + uniq("x")
    rejected(events, rule, ONLY_ONE.format(tid),
             [{"Id": tid, "Arn": sqs(), "InputPath": "$.detail",
               "InputTransformer": xf('{"detailType": <detail-type>,  "time": <timestamp>, "command": <command>}',
                                      MAP_BASIC)}])


def test_exclusivity_checked_before_content(events, rule):
    rejected(events, rule, ONLY_ONE.format("t"),
             [{"Id": "t", "Arn": sqs(), "Input": "not json", "InputPath": "not a path"}])


def test_undefined_placeholder_snapshot(events, rule):
    # LS test_put_events_with_input_transformer_missing_keys
    tid = "target-" + uniq("x")
    rejected(events, rule, BAD_PLACEHOLDER.format(tid, "notdefinedkey"),
             [{"Id": tid, "Arn": sqs(),
               "InputTransformer": xf('"Event of <detail-type> type, with not defined key <notdefinedkey>"',
                                      MAP_BASIC)}])


@pytest.mark.parametrize("template,name", [
    ('{"a": <x1>, "b": "<x2>"}', "x1"),
    ('{"b": "<x2>", "a": <x1>}', "x2"),
    ('"<aws.events.rule>"', "aws.events.rule"),
    ('"<AWS.EVENTS.RULE-ARN>"', "AWS.EVENTS.RULE-ARN"),
    ('"<command> <Command>"', "Command"),
    ("<bare> text", "bare"),
])
def test_undefined_placeholders(events, rule, template, name):
    rejected(events, rule, BAD_PLACEHOLDER.format("t", name),
             [{"Id": "t", "Arn": sqs(), "InputTransformer": xf(template, {"command": "$.detail.command"})}])


# ---------------------------------------------------------------------------------------------------------------
# rejected: Input, InputPath, InputPathsMap content


@pytest.mark.parametrize("value", [
    "", "NotJSON", "{", "{{}", '{"a":1} x', "{'a':1}", '{"a":01}', "[1,]", "NaN", '"tab\there"', '"\\x"',
])
def test_invalid_inputs(events, rule, value):
    rejected(events, rule, BAD_INPUT.format("i"), [{"Id": "i", "Arn": sqs(), "Input": value}])


@pytest.mark.parametrize("path", [
    "", "detail", "$.", "$.detail.", "$..detail", "$ .a", "$.a b", "$[", "$[0", "$[a]", "$[0,1]", "$[0:2]",
    "$[?(@.a)]", "$['a]", "$.length()",
])
def test_invalid_input_paths(events, rule, path):
    rejected(events, rule, BAD_PATH.format("p"), [{"Id": "p", "Arn": sqs(), "InputPath": path}])


@pytest.mark.parametrize("path", ["detail.x", "", "$..x", "$.a[", "$.a b"])
def test_invalid_paths_map_values(events, rule, path):
    rejected(events, rule, BAD_MAP_PATH.format("m", "bad"),
             [{"Id": "m", "Arn": sqs(), "InputTransformer": xf('"<good> <bad>"', {"good": "$.ok", "bad": path})}])


def test_reserved_variable_cannot_be_defined(events, rule):
    # the key pattern [A-Za-z0-9_-]+ (a model constraint, checked first) already excludes the dotted names
    for name in ["aws.events.rule-arn", "aws.events.event", "aws.events.event.json"]:
        assert_error(events.put_targets, "ValidationException", Rule=rule,
                     Targets=[{"Id": "m", "Arn": sqs(),
                               "InputTransformer": xf(f'{{"a": <{name}>}}', {name: "$.source"})}],
                     startswith="1 validation error detected: ",
                     contains="targets.1.member.inputTransformer.inputPathsMap")
    assert targets_of(events, rule) == []


def test_one_bad_target_rejects_the_request(events, rule):
    # whole-request error naming the first offending target; the good ones are not stored either
    rejected(events, rule, BAD_PLACEHOLDER.format("second", "nope"),
             [{"Id": "first", "Arn": sqs(), "InputPath": "$.detail"},
              {"Id": "second", "Arn": sqs(), "InputTransformer": xf('"<nope>"')},
              {"Id": "third", "Arn": sqs(), "Input": "not json"}])


def test_rejection_keeps_existing_targets(events, rule):
    ok_put(events, rule, [{"Id": "keep", "Arn": sqs(), "InputPath": "$.detail"}])
    assert_error(events.put_targets, "ValidationException", BAD_PATH.format("keep"), Rule=rule,
                 Targets=[{"Id": "keep", "Arn": sqs(), "InputPath": "detail"}])
    assert targets_of(events, rule) == [{"Id": "keep", "Arn": sqs(), "InputPath": "$.detail"}]
