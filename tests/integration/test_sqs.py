"""Built-in queues (SQS subset) driven by real clients: boto3 in both wire protocols (the query protocol Debian's
botocore 1.29 speaks, and AWS JSON 1.0 through a rewritten model — see conftest), and Debian's AWS CLI v2.

Expected error codes and messages are AWS's, as recorded in LocalStack's AWS-validated SQS snapshots where they
exist (docs/api.md lists the choices made where AWS is silent)."""

import base64
import hashlib
import json
import struct
import threading
import time
import urllib.parse

import pytest
from botocore.exceptions import ClientError

from conftest import (ACCOUNT, REGION, BusbarNode, call_error, make_sqs_client, send_raw, sigv4_headers, uniq)


@pytest.fixture(params=["query", "json"])
def client(request, sqs, sqs_json):
    return sqs if request.param == "query" else sqs_json


def qname(prefix="q"):
    return uniq(prefix)


def md5_attrs(attrs):
    """MD5OfMessageAttributes as AWS documents it (independent of the server's implementation)."""
    h = hashlib.md5()

    def lv(b):
        h.update(struct.pack("!I", len(b)))
        h.update(b)
    for name in sorted(attrs, key=lambda s: s.encode()):
        a = attrs[name]
        lv(name.encode())
        lv(a["DataType"].encode())
        if "StringValue" in a:
            h.update(b"\x01")
            lv(a["StringValue"].encode())
        else:
            h.update(b"\x02")
            lv(a["BinaryValue"])
    return h.hexdigest()


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


def err(fn, **kw):
    e = call_error(fn, **kw)
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def attrs_of(c, url, *names):
    return c.get_queue_attributes(QueueUrl=url, AttributeNames=list(names) or ["All"])["Attributes"]


# ---------------------------------------------------------------------------------------------------------------
# queues


def test_queue_lifecycle_and_not_found_mapping(client, node):
    name = qname()
    url = client.create_queue(QueueName=name)["QueueUrl"]
    assert url == f"{node.endpoint}/{ACCOUNT}/{name}"
    assert client.get_queue_url(QueueName=name)["QueueUrl"] == url
    assert url in client.list_queues(QueueNamePrefix=name)["QueueUrls"]
    client.delete_queue(QueueUrl=url)
    with pytest.raises(client.exceptions.QueueDoesNotExist) as ei:
        client.get_queue_url(QueueName=name)
    r = ei.value.response
    assert r["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 400
    if client.meta.service_model.protocol == "json":
        assert r["Error"]["Message"] == "The specified queue does not exist."
        assert r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-query-error"] == \
            "AWS.SimpleQueueService.NonExistentQueue;Sender"
    else:
        assert r["Error"]["Message"] == "The specified queue does not exist for this wsdl version."
    with pytest.raises(client.exceptions.QueueDoesNotExist):
        client.send_message(QueueUrl=url, MessageBody="x")
    assert "QueueUrls" not in client.list_queues(QueueNamePrefix=name)


def test_queue_url_of_any_host_form(client, node):
    name = qname()
    client.create_queue(QueueName=name)
    # any URL whose last two path segments are <account>/<name> addresses the queue
    for url in (f"http://localhost:1/{ACCOUNT}/{name}", f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"):
        assert client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"] == \
            f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    code, msg, _ = err(client.get_queue_attributes, QueueUrl="not-a-url")
    assert code == "InvalidAddress" and msg == "The address not-a-url is not valid for this endpoint."


def test_create_existing_queue_compares_given_attributes(client):
    name = qname()
    url = client.create_queue(QueueName=name, Attributes={"ReceiveMessageWaitTimeSeconds": "1",
                                                          "DelaySeconds": "1"})["QueueUrl"]
    assert client.create_queue(QueueName=name)["QueueUrl"] == url
    assert client.create_queue(QueueName=name, Attributes={"DelaySeconds": "1"})["QueueUrl"] == url
    code, msg, status = err(client.create_queue, QueueName=name,
                            Attributes={"ReceiveMessageWaitTimeSeconds": "1", "DelaySeconds": "2"})
    assert (code, status) == ("QueueAlreadyExists", 400)
    assert msg == "A queue already exists with the same name and a different value for attribute DelaySeconds"
    client.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "2"})
    assert client.create_queue(QueueName=name, Attributes={"DelaySeconds": "2"})["QueueUrl"] == url


@pytest.mark.parametrize("name,attrs,code,msg", [
    ("bad name", {}, "InvalidParameterValue",
     "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"),
    ("a" * 81, {}, "InvalidParameterValue",
     "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"),
    ("std.fifo", {}, "InvalidParameterValue",
     "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"),
    ("x", {"FifoQueue": "true"}, "InvalidAttributeName", "Unknown Attribute FifoQueue."),
    ("x", {"ContentBasedDeduplication": "false"}, "InvalidAttributeName", "Unknown Attribute ContentBasedDeduplication."),
    ("x", {"DeduplicationScope": "queue"}, "InvalidAttributeName",
     "You can specify the DeduplicationScope only when FifoQueue is set to true."),
    ("x", {"QueueArn": "arn"}, "InvalidAttributeName", "Unknown Attribute QueueArn."),
    ("x", {"VisibilityTimeout": "43201"}, "InvalidAttributeValue", "Invalid value for the parameter VisibilityTimeout."),
    ("x", {"MessageRetentionPeriod": "59"}, "InvalidAttributeValue",
     "Invalid value for the parameter MessageRetentionPeriod."),
    ("x", {"DelaySeconds": "abc"}, "InvalidAttributeValue", "Invalid value for the parameter DelaySeconds."),
    ("x", {"MaximumMessageSize": "1023"}, "InvalidAttributeValue", "Invalid value for the parameter MaximumMessageSize."),
    ("x", {"ReceiveMessageWaitTimeSeconds": "21"}, "InvalidAttributeValue",
     "Invalid value for the parameter ReceiveMessageWaitTimeSeconds."),
])
def test_create_queue_validation(sqs, name, attrs, code, msg):
    assert err(sqs.create_queue, QueueName=name, Attributes=attrs)[:2] == (code, msg)


def test_attributes_round_trip(client):
    name = qname()
    given = {"VisibilityTimeout": "45", "MessageRetentionPeriod": "3600", "DelaySeconds": "3",
             "ReceiveMessageWaitTimeSeconds": "2", "MaximumMessageSize": "2048"}
    url = client.create_queue(QueueName=name, Attributes=given)["QueueUrl"]
    a = attrs_of(client, url)
    assert {k: a[k] for k in given} == given
    assert a["QueueArn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    assert a["ApproximateNumberOfMessages"] == a["ApproximateNumberOfMessagesNotVisible"] == \
        a["ApproximateNumberOfMessagesDelayed"] == "0"
    assert a["SqsManagedSseEnabled"] == "true"
    assert abs(int(a["CreatedTimestamp"]) - time.time()) < 60
    assert int(a["LastModifiedTimestamp"]) >= int(a["CreatedTimestamp"])
    client.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "69", "DelaySeconds": "0"})
    assert attrs_of(client, url, "VisibilityTimeout", "DelaySeconds") == {"VisibilityTimeout": "69",
                                                                          "DelaySeconds": "0"}
    assert "Attributes" not in client.get_queue_attributes(QueueUrl=url)
    assert err(client.get_queue_attributes, QueueUrl=url, AttributeNames=["Foobar"])[:2] == \
        ("InvalidAttributeName", "Unknown Attribute Foobar.")
    assert err(client.set_queue_attributes, QueueUrl=url, Attributes={"FifoQueue": "true"})[:2] == \
        ("InvalidAttributeName", "Unknown Attribute FifoQueue.")
    policy = json.dumps({"Version": "2012-10-17", "Statement": []})
    client.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    assert json.loads(attrs_of(client, url, "Policy")["Policy"]) == json.loads(policy)


def test_list_queues_pagination(client):
    prefix = qname("page")
    names = [f"{prefix}-{i}" for i in range(5)]
    for n in names:
        client.create_queue(QueueName=n)
    seen, token = [], None
    for _ in range(10):
        kw = {"QueueNamePrefix": prefix, "MaxResults": 2}
        if token:
            kw["NextToken"] = token
        r = client.list_queues(**kw)
        seen += [u.rsplit("/", 1)[1] for u in r.get("QueueUrls", [])]
        token = r.get("NextToken")
        if not token:
            break
    assert seen == names
    r = client.list_queues(QueueNamePrefix=prefix)
    assert len(r["QueueUrls"]) == 5 and "NextToken" not in r
    code, msg, _ = err(client.list_queues, MaxResults=0)
    assert code == "InvalidParameterValue"
    assert msg == "Value 0 for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000."


def test_tags(client):
    url = client.create_queue(QueueName=qname(), tags={"a": "1"})["QueueUrl"]
    client.tag_queue(QueueUrl=url, Tags={"b": "2", "c": ""})
    assert client.list_queue_tags(QueueUrl=url)["Tags"] == {"a": "1", "b": "2", "c": ""}
    client.untag_queue(QueueUrl=url, TagKeys=["a", "c"])
    assert client.list_queue_tags(QueueUrl=url)["Tags"] == {"b": "2"}
    client.untag_queue(QueueUrl=url, TagKeys=["b"])
    assert "Tags" not in client.list_queue_tags(QueueUrl=url)


# ---------------------------------------------------------------------------------------------------------------
# messages


def test_send_receive_md5_and_attributes(client):
    url = client.create_queue(QueueName=qname())["QueueUrl"]
    body = 'héllo <wörld> & "friends"\r\n\t☃ 𝄞'
    attrs = {"s": {"DataType": "String", "StringValue": "v<&>\r"},
             "n": {"DataType": "Number", "StringValue": "12.5"},
             "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
             "custom": {"DataType": "String.custom", "StringValue": "x"}}
    r = client.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attrs)
    assert r["MD5OfMessageBody"] == md5(body)
    assert r["MD5OfMessageAttributes"] == md5_attrs(attrs)
    m = client.receive_message(QueueUrl=url, MessageAttributeNames=["All"], AttributeNames=["All"])["Messages"][0]
    assert m["MessageId"] == r["MessageId"]
    assert m["Body"] == body
    assert m["MD5OfBody"] == md5(body)
    assert m["MessageAttributes"] == attrs
    assert m["MD5OfMessageAttributes"] == md5_attrs(attrs)
    assert m["Attributes"]["ApproximateReceiveCount"] == "1"
    assert m["Attributes"]["SenderId"] == "test"
    sent = int(m["Attributes"]["SentTimestamp"])
    assert abs(sent / 1000 - time.time()) < 60
    assert int(m["Attributes"]["ApproximateFirstReceiveTimestamp"]) >= sent
    # without attributes: no MD5OfMessageAttributes
    r = client.send_message(QueueUrl=url, MessageBody="plain")
    assert "MD5OfMessageAttributes" not in r


def test_message_attribute_name_filters(client):
    url = client.create_queue(QueueName=qname())["QueueUrl"]
    attrs = {n: {"DataType": "String", "StringValue": n.upper()} for n in ("a.one", "a.two", "b")}
    client.send_message(QueueUrl=url, MessageBody="m", MessageAttributes=attrs)
    for names, want in ((["a.*"], ["a.one", "a.two"]), (["b"], ["b"]), ([".*"], ["a.one", "a.two", "b"]),
                        (["nope"], [])):
        m = client.receive_message(QueueUrl=url, MessageAttributeNames=names, VisibilityTimeout=0)["Messages"][0]
        got = m.get("MessageAttributes", {})
        assert sorted(got) == want
        if want:
            assert m["MD5OfMessageAttributes"] == md5_attrs(got)
        else:
            assert "MD5OfMessageAttributes" not in m
        assert "Attributes" not in m


def test_send_validation(client):
    url = client.create_queue(QueueName=qname(), Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    assert err(client.send_message, QueueUrl=url, MessageBody="")[:2] == \
        ("MissingParameter", "The request must contain the parameter MessageBody.")
    code, msg, _ = err(client.send_message, QueueUrl=url, MessageBody="a\x01b")
    assert code == "InvalidMessageContents" and msg.startswith("Invalid characters found.")
    assert err(client.send_message, QueueUrl=url, MessageBody="a" * 1025)[:2] == \
        ("InvalidParameterValue", "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes.")
    # attributes count toward the size: name + type + value
    client.send_message(QueueUrl=url, MessageBody="a" * (1024 - 8),
                        MessageAttributes={"k": {"DataType": "String", "StringValue": "x"}})
    assert err(client.send_message, QueueUrl=url, MessageBody="x",
               MessageAttributes={"e": {"DataType": "String", "StringValue": ""}})[:2] == \
        ("InvalidParameterValue", "Message (user) attribute 'e' must contain a non-empty value of type 'String'.")
    assert err(client.send_message, QueueUrl=url, MessageBody="x",
               MessageAttributes={f"k{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)})[:2] == \
        ("InvalidParameterValue", "Number of message attributes [11] exceeds the allowed maximum [10].")
    assert err(client.send_message, QueueUrl=url, MessageBody="x", DelaySeconds=901)[0] == "InvalidParameterValue"
    assert err(client.send_message, QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")[:2] == \
        ("InvalidParameterValue", "Value d for parameter MessageDeduplicationId is invalid. Reason: The request "
                                  "includes a parameter that is not valid for this queue type.")


def test_visibility_timeout_expiry_and_receive_count(client):
    url = client.create_queue(QueueName=qname(), Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="v")
    m1 = client.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"][0]
    assert m1["Attributes"]["ApproximateReceiveCount"] == "1"
    assert "Messages" not in client.receive_message(QueueUrl=url)
    a = attrs_of(client, url)
    assert (a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"]) == ("0", "1")
    m2 = client.receive_message(QueueUrl=url, AttributeNames=["All"], WaitTimeSeconds=5)["Messages"][0]
    assert m2["MessageId"] == m1["MessageId"]
    assert m2["ReceiptHandle"] != m1["ReceiptHandle"]
    assert m2["Attributes"]["ApproximateReceiveCount"] == "2"
    assert m2["Attributes"]["ApproximateFirstReceiveTimestamp"] == m1["Attributes"]["ApproximateFirstReceiveTimestamp"]
    # VisibilityTimeout=0 on receive: visible again at once
    time.sleep(1.1)
    client.receive_message(QueueUrl=url, VisibilityTimeout=0)
    assert client.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"][0]["Body"] == "v"


def test_change_message_visibility(client):
    url = client.create_queue(QueueName=qname())["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="c")
    h1 = client.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    assert "Messages" not in client.receive_message(QueueUrl=url)
    client.change_message_visibility(QueueUrl=url, ReceiptHandle=h1, VisibilityTimeout=0)
    h2 = client.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    # the first handle is stale now; the latest one works
    code, msg, _ = err(client.change_message_visibility, QueueUrl=url, ReceiptHandle=h1, VisibilityTimeout=5)
    assert (code, msg) == ("InvalidParameterValue",
                           f"Value {h1} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.")
    client.change_message_visibility(QueueUrl=url, ReceiptHandle=h2, VisibilityTimeout=42)
    assert err(client.change_message_visibility, QueueUrl=url, ReceiptHandle=h2, VisibilityTimeout=43201)[0] == \
        "InvalidParameterValue"
    client.delete_message(QueueUrl=url, ReceiptHandle=h2)
    assert err(client.change_message_visibility, QueueUrl=url, ReceiptHandle=h2, VisibilityTimeout=42)[:2] == \
        ("InvalidParameterValue", f"Value {h2} for parameter ReceiptHandle is invalid. Reason: Message does not exist "
                                  "or is not available for visibility timeout change.")
    assert err(client.change_message_visibility, QueueUrl=url, ReceiptHandle="INVALID", VisibilityTimeout=60)[0] == \
        "ReceiptHandleIsInvalid"


def test_delete_message_handles(client):
    url = client.create_queue(QueueName=qname())["QueueUrl"]
    other = client.create_queue(QueueName=qname())["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="d")
    h = client.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    assert err(client.delete_message, QueueUrl=other, ReceiptHandle=h)[0] == "ReceiptHandleIsInvalid"
    for _ in range(3):  # deleting again is fine
        client.delete_message(QueueUrl=url, ReceiptHandle=h)
    assert attrs_of(client, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible") == \
        {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
    assert err(client.delete_message, QueueUrl=url, ReceiptHandle="garbage")[:2] == \
        ("ReceiptHandleIsInvalid", 'The input receipt handle "garbage" is not a valid receipt handle.')


def test_old_receipt_handle_deletes_after_visibility_expired(client):
    url = client.create_queue(QueueName=qname())["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="old")
    h = client.receive_message(QueueUrl=url, VisibilityTimeout=1)["Messages"][0]["ReceiptHandle"]
    time.sleep(1.2)
    client.delete_message(QueueUrl=url, ReceiptHandle=h)
    assert attrs_of(client, url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "0"


def test_receive_parameters(client):
    url = client.create_queue(QueueName=qname())["QueueUrl"]
    for bad, msg in ((11, "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, "
                          "if provided."),
                     (0, "Value 0 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, "
                         "if provided.")):
        assert err(client.receive_message, QueueUrl=url, MaxNumberOfMessages=bad)[:2] == ("InvalidParameterValue", msg)
    assert err(client.receive_message, QueueUrl=url, WaitTimeSeconds=21)[:2] == \
        ("InvalidParameterValue", "Value 21 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, "
                                  "if provided.")
    assert err(client.receive_message, QueueUrl=url, WaitTimeSeconds=-1)[1].startswith("Value -1 for parameter "
                                                                                        "WaitTimeSeconds")
    for i in range(15):
        client.send_message(QueueUrl=url, MessageBody=f"m{i}")
    got = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(got) == 10 and len({m["MessageId"] for m in got}) == 10
    rest = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(rest) == 5
    assert {m["Body"] for m in got + rest} == {f"m{i}" for i in range(15)}


def test_batches(client):
    url = client.create_queue(QueueName=qname(), Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    assert err(client.send_message_batch, QueueUrl=url, Entries=[])[0] == "AWS.SimpleQueueService.EmptyBatchRequest"
    many = [{"Id": str(i), "MessageBody": "x"} for i in range(11)]
    assert err(client.send_message_batch, QueueUrl=url, Entries=many)[:2] == \
        ("AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
         "Maximum number of entries per request are 10. You have sent 11.")
    assert err(client.send_message_batch, QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "1"},
                                                                 {"Id": "a", "MessageBody": "2"}])[:2] == \
        ("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "Id a repeated.")
    assert err(client.send_message_batch, QueueUrl=url, Entries=[{"Id": "in:valid", "MessageBody": "1"}])[:2] == \
        ("AWS.SimpleQueueService.InvalidBatchEntryId", "A batch entry id can only contain alphanumeric characters, "
                                                       "hyphens and underscores. It can be at most 80 letters long.")
    r = client.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "ok", "MessageBody": "fine", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
        {"Id": "bad", "MessageBody": "\x01"},
        {"Id": "big", "MessageBody": "a" * 1025},
        {"Id": "ok2", "MessageBody": "fine2", "DelaySeconds": 0}])
    assert [s["Id"] for s in r["Successful"]] == ["ok", "ok2"]
    assert r["Successful"][0]["MD5OfMessageBody"] == md5("fine")
    assert r["Successful"][0]["MD5OfMessageAttributes"] == md5_attrs({"k": {"DataType": "String", "StringValue": "v"}})
    failed = {f["Id"]: f for f in r["Failed"]}
    assert failed["bad"]["Code"] == "InvalidMessageContents" and failed["bad"]["SenderFault"] is True
    assert failed["big"]["Code"] == "InvalidParameterValue"
    assert failed["big"]["Message"] == \
        "One or more parameters cannot be validated. Reason: Message must be shorter than 1024 bytes."
    msgs = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)["Messages"]
    assert sorted(m["Body"] for m in msgs) == ["fine", "fine2"]
    entries = [{"Id": f"e{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)]
    r = client.change_message_visibility_batch(
        QueueUrl=url, Entries=[dict(e, VisibilityTimeout=60) for e in entries] +
        [{"Id": "junk", "ReceiptHandle": "junk", "VisibilityTimeout": 5}])
    assert sorted(s["Id"] for s in r["Successful"]) == ["e0", "e1"]
    assert r["Failed"][0]["Id"] == "junk" and r["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    r = client.delete_message_batch(QueueUrl=url, Entries=entries + [{"Id": "junk", "ReceiptHandle": "junk"}])
    assert sorted(s["Id"] for s in r["Successful"]) == ["e0", "e1"]
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in r["Failed"]] == [("junk", "ReceiptHandleIsInvalid", True)]
    assert err(client.delete_message_batch, QueueUrl=url, Entries=[])[0] == "AWS.SimpleQueueService.EmptyBatchRequest"
    assert err(client.change_message_visibility_batch, QueueUrl=url,
               Entries=[{"Id": "x", "ReceiptHandle": "h", "VisibilityTimeout": 1}] * 2)[0] == \
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    assert attrs_of(client, url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "0"


def test_batch_request_too_long(tmp_path):
    n = BusbarNode(tmp_path, extra_args=["--max-body-bytes", str(4 << 20)]).start()
    try:
        c = make_sqs_client(n.endpoint)
        url = c.create_queue(QueueName="big")["QueueUrl"]
        entries = [{"Id": str(i), "MessageBody": "a" * (1048576 // 2)} for i in range(2)]
        entries[1]["MessageBody"] += "a"
        assert err(c.send_message_batch, QueueUrl=url, Entries=entries)[:2] == \
            ("AWS.SimpleQueueService.BatchRequestTooLong",
             "Batch requests cannot be longer than 1048576 bytes. You have sent 1048577 bytes.")
        # a message of the whole default MaximumMessageSize (1 MiB) is accepted
        body = "b" * 1048576
        r = c.send_message(QueueUrl=url, MessageBody=body)
        assert r["MD5OfMessageBody"] == md5(body)
        assert c.receive_message(QueueUrl=url)["Messages"][0]["Body"] == body
    finally:
        n.stop()


def test_delay_and_counts(client):
    url = client.create_queue(QueueName=qname())["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="late", DelaySeconds=2)
    client.send_message(QueueUrl=url, MessageBody="now1")
    client.send_message(QueueUrl=url, MessageBody="now2")
    client.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
    a = attrs_of(client, url)
    assert (a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"],
            a["ApproximateNumberOfMessagesDelayed"]) == ("1", "1", "1")
    bodies = {m["Body"] for m in client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]}
    assert "late" not in bodies
    # a long poll picks up the delayed message when it becomes due
    m = client.receive_message(QueueUrl=url, WaitTimeSeconds=10)["Messages"][0]
    assert m["Body"] == "late"


def test_queue_delay_seconds_applies(client):
    url = client.create_queue(QueueName=qname(), Attributes={"DelaySeconds": "1"})["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="d")
    assert "Messages" not in client.receive_message(QueueUrl=url)
    assert client.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"][0]["Body"] == "d"
    client.send_message(QueueUrl=url, MessageBody="zero", DelaySeconds=0)  # explicit 0 overrides the queue's
    assert client.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "zero"


def test_long_poll_woken_by_send(client):
    url = client.create_queue(QueueName=qname())["QueueUrl"]
    result = {}

    def poll():
        t0 = time.monotonic()
        result["r"] = client.receive_message(QueueUrl=url, WaitTimeSeconds=15)
        result["elapsed"] = time.monotonic() - t0
    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.5)
    client.send_message(QueueUrl=url, MessageBody="wake")
    th.join(30)
    assert not th.is_alive()
    assert result["r"]["Messages"][0]["Body"] == "wake"
    assert result["elapsed"] < 10, "the waiting receive was not woken by the send"


def test_long_poll_times_out_empty(client):
    url = client.create_queue(QueueName=qname(), Attributes={"ReceiveMessageWaitTimeSeconds": "1"})["QueueUrl"]
    t0 = time.monotonic()
    r = client.receive_message(QueueUrl=url, WaitTimeSeconds=1)
    assert "Messages" not in r and time.monotonic() - t0 >= 0.9
    t0 = time.monotonic()
    r = client.receive_message(QueueUrl=url)  # the queue's ReceiveMessageWaitTimeSeconds applies
    assert "Messages" not in r and time.monotonic() - t0 >= 0.9


def test_long_poll_waiters_are_bounded(tmp_path):
    n = BusbarNode(tmp_path, extra_args=["--sqs-max-waiters", "1"]).start()
    try:
        c = make_sqs_client(n.endpoint)
        url = c.create_queue(QueueName="w")["QueueUrl"]
        th = threading.Thread(target=lambda: c.receive_message(QueueUrl=url, WaitTimeSeconds=3))
        th.start()
        time.sleep(0.5)
        code, _, status = err(c.receive_message, QueueUrl=url, WaitTimeSeconds=2)
        assert (code, status) == ("RequestThrottled", 400)
        assert "Messages" not in c.receive_message(QueueUrl=url)  # short polls are not limited
        th.join(10)
    finally:
        n.stop()


def test_purge(client):
    name = qname()
    url = client.create_queue(QueueName=name)["QueueUrl"]
    for i in range(3):
        client.send_message(QueueUrl=url, MessageBody=f"p{i}")
    h = client.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    client.purge_queue(QueueUrl=url)
    a = attrs_of(client, url)
    assert (a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"]) == ("0", "0")
    assert "Messages" not in client.receive_message(QueueUrl=url)
    client.delete_message(QueueUrl=url, ReceiptHandle=h)  # a handle from before the purge: already gone, fine
    code, msg, status = err(client.purge_queue, QueueUrl=url)
    assert (code, status) == ("AWS.SimpleQueueService.PurgeQueueInProgress", 403)
    assert msg == f"Only one PurgeQueue operation on {name} is allowed every 60 seconds."
    client.send_message(QueueUrl=url, MessageBody="after")
    assert client.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "after"


def test_delete_and_recreate_shows_no_old_messages(client):
    name = qname()
    url = client.create_queue(QueueName=name)["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="old")
    client.delete_queue(QueueUrl=url)
    assert client.create_queue(QueueName=name)["QueueUrl"] == url
    assert "Messages" not in client.receive_message(QueueUrl=url)
    assert attrs_of(client, url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "0"


def test_redrive_to_dead_letter_queue(client):
    dlq = client.create_queue(QueueName=qname("dlq"))["QueueUrl"]
    dlq_arn = attrs_of(client, dlq, "QueueArn")["QueueArn"]
    src_name = qname("src")
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    src = client.create_queue(QueueName=src_name, Attributes={"RedrivePolicy": policy})["QueueUrl"]
    assert json.loads(attrs_of(client, src, "RedrivePolicy")["RedrivePolicy"]) == json.loads(policy)
    attrs = {"k": {"DataType": "String", "StringValue": "v"}}
    mid = client.send_message(QueueUrl=src, MessageBody="poison", MessageAttributes=attrs)["MessageId"]
    assert client.receive_message(QueueUrl=src, VisibilityTimeout=0)["Messages"][0]["MessageId"] == mid
    assert "Messages" not in client.receive_message(QueueUrl=src)  # moved instead of delivered a 2nd time
    m = client.receive_message(QueueUrl=dlq, AttributeNames=["All"], MessageAttributeNames=["All"])["Messages"][0]
    assert (m["MessageId"], m["Body"], m["MessageAttributes"]) == (mid, "poison", attrs)
    assert m["Attributes"]["DeadLetterQueueSourceArn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{src_name}"
    assert m["Attributes"]["ApproximateReceiveCount"] == "2"
    bad = json.dumps({"deadLetterTargetArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:nope", "maxReceiveCount": 1})
    code, msg, _ = err(client.set_queue_attributes, QueueUrl=src, Attributes={"RedrivePolicy": bad})
    assert code == "InvalidParameterValue" and msg.endswith("Reason: Dead-letter target does not exist.")
    client.set_queue_attributes(QueueUrl=src, Attributes={"RedrivePolicy": ""})
    assert "RedrivePolicy" not in attrs_of(client, src)


# ---------------------------------------------------------------------------------------------------------------
# durability, protocols, CLI


def test_acknowledged_sends_survive_kill9(fresh_node):
    c = make_sqs_client(fresh_node.endpoint)
    url = c.create_queue(QueueName="durable")["QueueUrl"]
    sent = set()
    for i in range(40):
        c.send_message(QueueUrl=url, MessageBody=f"m{i}")
        sent.add(f"m{i}")
    r = c.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"b{i}"} for i in range(10)])
    sent |= {f"b{i}" for i in range(10)} if len(r["Successful"]) == 10 else set()
    fresh_node.kill9()
    fresh_node.start()
    c = make_sqs_client(fresh_node.endpoint)
    got = set()
    for _ in range(20):
        r = c.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)
        for m in r.get("Messages", []):
            got.add(m["Body"])
        if len(got) >= len(sent):
            break
    assert got == sent


def test_query_protocol_raw(node):
    """Hand-made query requests: POST to the queue URL without QueueUrl, unknown actions, XML shapes."""
    c = make_sqs_client(node.endpoint)
    name = qname()
    c.create_queue(QueueName=name)

    def post(path, params):
        body = urllib.parse.urlencode(params)
        h = sigv4_headers(host=node.host_header, body=body, service="sqs", path=path,
                          extra_headers={"Content-Type": "application/x-www-form-urlencoded"})
        return send_raw(node.port, path=path, headers=h, body=body)
    r = post(f"/{ACCOUNT}/{name}", {"Action": "SendMessage", "MessageBody": "a&b<c>"})
    assert r.status == 200 and b"<SendMessageResponse" in r.body and b"<MD5OfMessageBody>" in r.body
    r = post(f"/{ACCOUNT}/{name}", {"Action": "ReceiveMessage"})
    assert b"<Body>a&amp;b&lt;c&gt;</Body>" in r.body
    r = post("/", {"Action": "FooBar"})
    assert r.status == 400 and b"<Code>InvalidAction</Code>" in r.body and b"<Type>Sender</Type>" in r.body
    assert b"<Message>The action FooBar is not valid for this endpoint.</Message>" in r.body
    r = post("/", {"Action": "GetQueueAttributes", "QueueUrl": f"http://x/{ACCOUNT}/{name}",
                   "AttributeName.1": "Foobar"})
    assert b"<Code>InvalidAttributeName</Code>" in r.body and b"<Message>Unknown Attribute Foobar.</Message>" in r.body


def test_json_protocol_raw(node):
    c = make_sqs_client(node.endpoint, protocol="json")
    url = c.create_queue(QueueName=qname())["QueueUrl"]
    body = json.dumps({"QueueUrl": url, "MessageBody": "hi"})
    h = sigv4_headers(host=node.host_header, body=body, service="sqs", target="AmazonSQS.SendMessage",
                      extra_headers={"Content-Type": "application/x-amz-json-1.0"})
    r = send_raw(node.port, headers=h, body=body)
    assert r.status == 200 and r.headers["content-type"] == "application/x-amz-json-1.0"
    assert r.json["MD5OfMessageBody"] == md5("hi")
    body = json.dumps({"QueueUrl": url + "-missing"})
    h = sigv4_headers(host=node.host_header, body=body, service="sqs", target="AmazonSQS.PurgeQueue",
                      extra_headers={"Content-Type": "application/x-amz-json-1.0"})
    r = send_raw(node.port, headers=h, body=body)
    assert r.status == 400 and r.json["__type"] == "com.amazonaws.sqs#QueueDoesNotExist"
    assert r.headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    # signed for the wrong service
    h = sigv4_headers(host=node.host_header, body=body, service="events", target="AmazonSQS.PurgeQueue",
                      extra_headers={"Content-Type": "application/x-amz-json-1.0"})
    r = send_raw(node.port, headers=h, body=body)
    assert r.status == 403 and r.error_type == "InvalidSignatureException"


def test_wrong_secret_is_rejected(node):
    c = make_sqs_client(node.endpoint, secret="wrong")
    assert err(c.list_queues)[0] == "SignatureDoesNotMatch"
    c = make_sqs_client(node.endpoint, protocol="json", key="nokey")
    assert err(c.list_queues)[0] == "InvalidClientTokenId"


def test_aws_cli(aws, node):
    name = qname("cli")
    url = aws.ok("sqs", "create-queue", "--queue-name", name, "--attributes", "VisibilityTimeout=7")["QueueUrl"]
    assert url == f"{node.endpoint}/{ACCOUNT}/{name}"
    assert aws.ok("sqs", "get-queue-url", "--queue-name", name)["QueueUrl"] == url
    assert url in aws.ok("sqs", "list-queues", "--queue-name-prefix", name)["QueueUrls"]
    a = aws.ok("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "All")["Attributes"]
    assert a["VisibilityTimeout"] == "7"
    sent = aws.ok("sqs", "send-message", "--queue-url", url, "--message-body", "from the cli",
                  "--message-attributes", '{"k":{"DataType":"String","StringValue":"v"}}')
    assert sent["MD5OfMessageBody"] == md5("from the cli")
    assert sent["MD5OfMessageAttributes"] == md5_attrs({"k": {"DataType": "String", "StringValue": "v"}})
    aws.ok("sqs", "send-message-batch", "--queue-url", url, "--entries",
           json.dumps([{"Id": "1", "MessageBody": "b1"}, {"Id": "2", "MessageBody": "b2"}]))
    got = aws.ok("sqs", "receive-message", "--queue-url", url, "--max-number-of-messages", "10",
                 "--attribute-names", "All", "--message-attribute-names", "All", "--wait-time-seconds", "1")
    bodies = sorted(m["Body"] for m in got["Messages"])
    assert bodies == ["b1", "b2", "from the cli"]
    for m in got["Messages"]:
        aws.ok("sqs", "delete-message", "--queue-url", url, "--receipt-handle", m["ReceiptHandle"])
    aws.ok("sqs", "set-queue-attributes", "--queue-url", url, "--attributes", "DelaySeconds=1")
    aws.ok("sqs", "tag-queue", "--queue-url", url, "--tags", "team=core")
    assert aws.ok("sqs", "list-queue-tags", "--queue-url", url)["Tags"] == {"team": "core"}
    aws.ok("sqs", "purge-queue", "--queue-url", url)
    aws.ok("sqs", "delete-queue", "--queue-url", url)
    rc, _, stderr = aws("sqs", "get-queue-url", "--queue-name", name)
    assert rc == 254 and "AWS.SimpleQueueService.NonExistentQueue" in stderr
    rc, _, stderr = aws("sqs", "receive-message", "--queue-url", url, "--max-number-of-messages", "11")
    assert rc == 254 and "MaxNumberOfMessages" in stderr


def test_stop_ends_long_polls(fresh_node):
    """A clean stop wakes waiting receivers (they answer empty) instead of waiting out their WaitTimeSeconds."""
    c = make_sqs_client(fresh_node.endpoint)
    url = c.create_queue(QueueName="lp")["QueueUrl"]
    out = {}

    def poll():
        try:
            out["r"] = c.receive_message(QueueUrl=url, WaitTimeSeconds=20)
        except Exception as e:  # noqa: BLE001 — reported below
            out["e"] = e
    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    fresh_node.stop()
    stopped_in = time.monotonic() - t0
    th.join(30)
    assert stopped_in < 10, "stop waited for the long poll"
    assert "Messages" not in out.get("r", {}), out
