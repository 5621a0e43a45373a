"""The walkthrough a new user does with the AWS CLI v2 (/usr/bin/aws), plus CLI auto-pagination and CLI errors.

Reference: issue 2 "Done when"; shared/reference/eventbridge-api.md §1.4 (CLI with --endpoint-url).
AWS CLI v2 exits 254 when the service answered an error, 252 for bad command-line parameters.
"""

import concurrent.futures
import json
import re
import shlex

import pytest

from conftest import ACCOUNT, REGION, bus_arn, rule_arn, uniq

SERVICE_ERROR_RC = 254
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders-queue"
PATTERN = '{"source": ["shop"], "detail-type": ["Order Placed"]}'
EVENT = json.dumps({"id": "1", "account": ACCOUNT, "source": "shop", "time": "2024-05-01T12:00:00Z",
                    "region": REGION, "detail-type": "Order Placed", "resources": [], "detail": {"total": 3}})


def cli_error(aws, *args):
    """Run a CLI command that must fail with a service error; return its stderr line without the retry note the
    CLI inserts (`... operation (reached max retries: 0): ...`, we run it with AWS_MAX_ATTEMPTS=1)."""
    rc, out, err = aws(*args)
    assert rc == SERVICE_ERROR_RC, f"rc {rc}\nstdout {out!r}\nstderr {err}"
    return re.sub(r" \(reached max retries: \d+\)", "", err.strip())


def test_startup_banner_has_endpoint_and_a_working_aws_command(node, aws, events):
    out = node.read_stdout()
    assert node.endpoint in out, out
    lines = [ln for ln in out.splitlines() if "aws " in ln and "--endpoint-url" in ln]
    assert lines, f"no example aws command in stdout:\n{out}"
    # run the suggested command with the CLI v2 (whatever precedes `aws` on the line, e.g. env assignments, is
    # already in the helper's environment)
    words = shlex.split(lines[0][lines[0].index("aws "):])
    assert words[0] == "aws"
    rc, got, err = aws(*words[1:], raw=True)
    assert rc == 0, f"suggested command {lines[0]!r} failed: {rc} {got!r} {err}"
    # leave no trace for the walkthrough below (which creates `orders` itself)
    if "create-event-bus" in words:
        events.delete_event_bus(Name=words[words.index("--name") + 1])


def test_new_user_walkthrough(aws, tmp_path):
    # 1. a bus
    out = aws.ok("events", "create-event-bus", "--name", "orders")
    assert out["EventBusArn"] == bus_arn("orders")
    out = aws.ok("events", "describe-event-bus", "--name", "orders")
    assert out["Name"] == "orders" and out["Arn"] == bus_arn("orders")
    names = [b["Name"] for b in aws.ok("events", "list-event-buses")["EventBuses"]]
    assert "default" in names and "orders" in names

    # 2. a rule with a pattern
    out = aws.ok("events", "put-rule", "--name", "order-placed", "--event-bus-name", "orders",
                 "--event-pattern", PATTERN, "--description", "orders placed in the shop")
    assert out["RuleArn"] == rule_arn("order-placed", "orders")

    # 3. targets, shorthand and JSON syntax
    out = aws.ok("events", "put-targets", "--rule", "order-placed", "--event-bus-name", "orders",
                 "--targets", f"Id=queue,Arn={QUEUE}")
    assert out["FailedEntryCount"] == 0 and out["FailedEntries"] == []
    targets_json = json.dumps([{"Id": "with-input", "Arn": QUEUE, "Input": '{"hello": "world"}',
                                "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 300}}])
    out = aws.ok("events", "put-targets", "--rule", "order-placed", "--event-bus-name", "orders",
                 "--targets", targets_json)
    assert out["FailedEntryCount"] == 0

    # 4. look at it
    rules = aws.ok("events", "list-rules", "--event-bus-name", "orders")["Rules"]
    assert [r["Name"] for r in rules] == ["order-placed"]
    assert rules[0]["EventPattern"] == PATTERN and rules[0]["State"] == "ENABLED"
    d = aws.ok("events", "describe-rule", "--name", "order-placed", "--event-bus-name", "orders")
    assert d["EventPattern"] == PATTERN
    assert d["Arn"] == rule_arn("order-placed", "orders")
    assert d["EventBusName"] == "orders" and d["CreatedBy"] == ACCOUNT
    assert d["Description"] == "orders placed in the shop"
    ts = aws.ok("events", "list-targets-by-rule", "--rule", "order-placed", "--event-bus-name", "orders")["Targets"]
    assert sorted(t["Id"] for t in ts) == ["queue", "with-input"]
    wi = [t for t in ts if t["Id"] == "with-input"][0]
    assert wi["Input"] == '{"hello": "world"}'
    assert wi["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 300}
    rn = aws.ok("events", "list-rule-names-by-target", "--target-arn", QUEUE, "--event-bus-name", "orders")
    assert rn["RuleNames"] == ["order-placed"]

    # 5. test-event-pattern
    assert aws.ok("events", "test-event-pattern", "--event-pattern", PATTERN, "--event", EVENT)["Result"] is True
    other = EVENT.replace('"shop"', '"elsewhere"')
    assert aws.ok("events", "test-event-pattern", "--event-pattern", PATTERN, "--event", other)["Result"] is False

    # 6. disable / enable
    aws.ok("events", "disable-rule", "--name", "order-placed", "--event-bus-name", "orders")
    assert aws.ok("events", "describe-rule", "--name", "order-placed",
                  "--event-bus-name", "orders")["State"] == "DISABLED"
    aws.ok("events", "enable-rule", "--name", "order-placed", "--event-bus-name", "orders")

    # 7. tags
    arn = rule_arn("order-placed", "orders")
    aws.ok("events", "tag-resource", "--resource-arn", arn, "--tags", "Key=team,Value=shop", "Key=env,Value=dev")
    tags = aws.ok("events", "list-tags-for-resource", "--resource-arn", arn)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "dev"), ("team", "shop")]
    aws.ok("events", "untag-resource", "--resource-arn", arn, "--tag-keys", "env")
    tags = aws.ok("events", "list-tags-for-resource", "--resource-arn", arn)["Tags"]
    assert [(t["Key"], t["Value"]) for t in tags] == [("team", "shop")]

    # 8. clean up: refused while targets exist, then remove targets and delete
    err = cli_error(aws, "events", "delete-rule", "--name", "order-placed", "--event-bus-name", "orders")
    assert err.endswith("An error occurred (ValidationException) when calling the DeleteRule operation: "
                        "Rule can't be deleted since it has targets."), err
    out = aws.ok("events", "remove-targets", "--rule", "order-placed", "--event-bus-name", "orders",
                 "--ids", "queue", "with-input")
    assert out["FailedEntryCount"] == 0
    aws.ok("events", "delete-rule", "--name", "order-placed", "--event-bus-name", "orders")
    err = cli_error(aws, "events", "describe-rule", "--name", "order-placed", "--event-bus-name", "orders")
    assert err.endswith("An error occurred (ResourceNotFoundException) when calling the DescribeRule operation: "
                        "Rule order-placed does not exist on EventBus orders."), err
    aws.ok("events", "delete-event-bus", "--name", "orders")
    err = cli_error(aws, "events", "describe-event-bus", "--name", "orders")
    assert err.endswith("An error occurred (ResourceNotFoundException) when calling the DescribeEventBus "
                        "operation: Event bus orders does not exist."), err


def test_pattern_from_file_kept_exactly(aws, events, tmp_path):
    pattern = '{\n  "source": ["shop"],\n  "detail": {\n    "total": [100]\n  }\n}\n'
    f = tmp_path / "pattern.json"
    f.write_text(pattern)
    name = uniq("file")
    aws.ok("events", "put-rule", "--name", name, "--event-pattern", f"file://{f}")
    assert events.describe_rule(Name=name)["EventPattern"] == pattern


def test_cli_error_messages(aws):
    err = cli_error(aws, "events", "delete-event-bus", "--name", "default")
    assert err.endswith("An error occurred (ValidationException) when calling the DeleteEventBus operation: "
                        "Cannot delete event bus default."), err
    b = uniq("dup")
    aws.ok("events", "create-event-bus", "--name", b)
    err = cli_error(aws, "events", "create-event-bus", "--name", b)
    assert err.endswith(f"An error occurred (ResourceAlreadyExistsException) when calling the CreateEventBus "
                        f"operation: Event bus {b} already exists."), err
    err = cli_error(aws, "events", "put-rule", "--name", uniq("bad"), "--event-pattern", '{"source": "x"}')
    assert "An error occurred (InvalidEventPatternException) when calling the PutRule operation: " \
           "Event pattern is not valid. Reason: " in err, err
    err = cli_error(aws, "events", "test-event-pattern", "--event-pattern", PATTERN, "--event", "[]")
    assert err.endswith("An error occurred (ValidationException) when calling the TestEventPattern operation: "
                        "Parameter Event is not valid."), err
    r = uniq("six")
    aws.ok("events", "put-rule", "--name", r, "--event-pattern", PATTERN)
    six = " ".join(f"Id=t{i},Arn={QUEUE}" for i in range(6)).split(" ")
    err = cli_error(aws, "events", "put-targets", "--rule", r, "--targets", *six)
    assert err.endswith("An error occurred (LimitExceededException) when calling the PutTargets operation: "
                        "The requested resource exceeds the maximum number allowed."), err
    err = cli_error(aws, "events", "put-targets", "--rule", r, "--targets",
                    json.dumps([{"Id": "!@#$@!#$", "Arn": QUEUE}]))
    assert err.endswith("An error occurred (ValidationException) when calling the PutTargets operation: "
                        "1 validation error detected: Value '!@#$@!#$' at 'targets.1.member.id' failed to satisfy "
                        "constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+"), err


@pytest.mark.parametrize("env,code", [
    ({"AWS_SECRET_ACCESS_KEY": "wrong"}, "InvalidSignatureException"),
    ({"AWS_ACCESS_KEY_ID": "nobody"}, "UnrecognizedClientException"),
    ({"AWS_DEFAULT_REGION": "eu-west-1"}, "InvalidSignatureException"),
])
def test_cli_auth_errors(aws, env, code):
    rc, out, err = aws("events", "list-event-buses", env=env)
    assert rc == SERVICE_ERROR_RC, (rc, out, err)
    assert f"An error occurred ({code}) when calling the ListEventBuses operation" in err, err


def test_cli_no_sign_request(aws):
    rc, out, err = aws("--no-sign-request", "events", "list-event-buses")
    assert rc == SERVICE_ERROR_RC, (rc, out, err)
    assert "MissingAuthenticationTokenException" in err, err


# ---------------------------------------------------------------------------------------------------------------
# CLI auto-pagination over 250 rules


@pytest.fixture(scope="module")
def bus250(node, events):
    name = uniq("cli250")
    events.create_event_bus(Name=name)
    clients = [node.client() for _ in range(8)]

    def mk(i):
        clients[i % 8].put_rule(Name=f"c-{i:03d}", EventPattern=f'{{"source": ["s{i}"]}}', EventBusName=name)
        if i < 9:
            clients[i % 8].put_targets(Rule=f"c-{i:03d}", EventBusName=name,
                                       Targets=[{"Id": "shared", "Arn": QUEUE}])

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(mk, range(250)))
    return name, [f"c-{i:03d}" for i in range(250)]


@pytest.mark.parametrize("extra", [[], ["--page-size", "7"], ["--page-size", "100"]], ids=["default", "7", "100"])
def test_cli_list_rules_auto_paginates(aws, bus250, extra):
    bus, names = bus250
    out = aws.ok("events", "list-rules", "--event-bus-name", bus, *extra)
    got = [r["Name"] for r in out["Rules"]]
    assert len(got) == 250 and set(got) == set(names)
    assert "NextToken" not in out


def test_cli_max_items_and_starting_token(aws, bus250):
    bus, names = bus250
    first = aws.ok("events", "list-rules", "--event-bus-name", bus, "--max-items", "90", "--page-size", "40")
    assert len(first["Rules"]) == 90 and first.get("NextToken")
    rest = aws.ok("events", "list-rules", "--event-bus-name", bus, "--page-size", "40",
                  "--starting-token", first["NextToken"])
    got = [r["Name"] for r in first["Rules"]] + [r["Name"] for r in rest["Rules"]]
    assert len(got) == 250 and set(got) == set(names)


def test_cli_other_paginated_lists(aws, bus250):
    bus, names = bus250
    out = aws.ok("events", "list-rule-names-by-target", "--target-arn", QUEUE, "--event-bus-name", bus,
                 "--page-size", "2")
    assert sorted(out["RuleNames"]) == names[:9]
    out = aws.ok("events", "list-rules", "--event-bus-name", bus, "--name-prefix", "c-24", "--page-size", "3")
    assert sorted(r["Name"] for r in out["Rules"]) == [f"c-24{i}" for i in range(10)]


def test_cli_list_targets_paginates(aws, events):
    r = uniq("five")
    events.put_rule(Name=r, EventPattern=PATTERN)
    events.put_targets(Rule=r, Targets=[{"Id": f"t{i}", "Arn": QUEUE} for i in range(5)])
    out = aws.ok("events", "list-targets-by-rule", "--rule", r, "--page-size", "2")
    assert sorted(t["Id"] for t in out["Targets"]) == [f"t{i}" for i in range(5)]


def test_cli_binary_is_v2(aws):
    rc, out, err = aws("--version", raw=True)
    assert rc == 0 and "aws-cli/2." in f"{out} {err}", (rc, out, err)
