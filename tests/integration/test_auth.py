"""SigV4 authentication, protocol errors, health endpoints — requests crafted by hand (conftest.sigv4_headers).

Reference: shared/reference/eventbridge-api.md §1.1 (wire), §1.2 (error shape), §1.3 (SigV4), issue 2 §4, §5, §8.
"""

import datetime
import json

import pytest
from botocore.exceptions import ClientError

from conftest import (http_get, make_client, send_raw, sigv4_headers, sigv4_request)

AUTH_ERRORS = {"MissingAuthenticationTokenException", "UnrecognizedClientException", "InvalidSignatureException",
               "IncompleteSignatureException", "SignatureDoesNotMatch", "AccessDeniedException"}


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def assert_aws_error(r, code, status=400, need_message=True):
    """An AWS JSON 1.1 error: status, {"__type","message"} body, x-amzn-RequestId, JSON content type."""
    assert r.status == status if isinstance(status, int) else r.status in status, r
    assert isinstance(r.json, dict), r
    assert r.error_type == code, r
    if need_message:
        assert isinstance(r.message, str) and r.message, r
    assert r.headers.get("x-amzn-requestid"), r
    assert r.headers.get("content-type", "").startswith("application/x-amz-json-1.1"), r


def test_own_signer_is_accepted(node):
    # sanity of the hand signer: the same request that later tests break must succeed when signed right
    r = sigv4_request(node, "ListEventBuses", {})
    assert r.status == 200, r
    assert "default" in [b["Name"] for b in r.json["EventBuses"]]
    assert r.headers.get("x-amzn-requestid"), r
    assert r.headers.get("content-type", "").startswith("application/x-amz-json-1.1"), r


def test_request_ids_are_unique(node):
    ids = {sigv4_request(node, "ListEventBuses", {}).headers.get("x-amzn-requestid") for _ in range(5)}
    assert len(ids) == 5 and None not in ids


def test_missing_authorization(node):
    r = sigv4_request(node, "ListEventBuses", {}, sign=False)
    # §1.2: 400 (some AWS front-ends use 403 for this one)
    assert_aws_error(r, "MissingAuthenticationTokenException", status=(400, 403))


def test_unknown_access_key(node):
    r = sigv4_request(node, "ListEventBuses", {}, key="AKIDUNKNOWN0000000000", secret="whatever")
    assert_aws_error(r, "UnrecognizedClientException")


def test_wrong_secret(node):
    r = sigv4_request(node, "ListEventBuses", {}, secret="not-the-secret")
    assert_aws_error(r, "InvalidSignatureException")


def test_wrong_secret_boto3(node):
    c = make_client(node.endpoint, secret="wrong")
    with pytest.raises(ClientError) as ei:
        c.list_event_buses()
    assert ei.value.response["Error"]["Code"] == "InvalidSignatureException"
    c = make_client(node.endpoint, key="nobody", secret="test")
    with pytest.raises(ClientError) as ei:
        c.list_event_buses()
    assert ei.value.response["Error"]["Code"] == "UnrecognizedClientException"


@pytest.mark.parametrize("minutes", [-20, -60 * 24])
def test_expired_date(node, minutes):
    when = utcnow() + datetime.timedelta(minutes=minutes)
    r = sigv4_request(node, "ListEventBuses", {}, when=when)
    assert_aws_error(r, "InvalidSignatureException")
    assert "Signature expired" in r.message, r


@pytest.mark.parametrize("minutes", [20, 60 * 24 * 365])
def test_future_date(node, minutes):
    # AWS words a date too far ahead "Signature not yet current: ..." (the contract says "Signature expired";
    # either is accepted here, the code must be InvalidSignatureException).
    when = utcnow() + datetime.timedelta(minutes=minutes)
    r = sigv4_request(node, "ListEventBuses", {}, when=when)
    assert_aws_error(r, "InvalidSignatureException")
    assert "Signature expired" in r.message or "Signature not yet current" in r.message, r


@pytest.mark.parametrize("minutes", [-14, 14])
def test_skew_within_15_minutes_ok(node, minutes):
    r = sigv4_request(node, "ListEventBuses", {}, when=utcnow() + datetime.timedelta(minutes=minutes))
    assert r.status == 200, r


def test_wrong_region_in_scope(node):
    r = sigv4_request(node, "ListEventBuses", {}, region="eu-west-1")
    assert_aws_error(r, "InvalidSignatureException")


def test_wrong_region_boto3(node):
    c = make_client(node.endpoint, region="eu-west-1")
    with pytest.raises(ClientError) as ei:
        c.list_event_buses()
    assert ei.value.response["Error"]["Code"] == "InvalidSignatureException"


def test_wrong_service_in_scope(node):
    # Not in the contract: a scope for another service must not authenticate an events call.
    r = sigv4_request(node, "ListEventBuses", {}, service="sqs")
    assert r.status in (400, 403), r
    assert r.error_type in AUTH_ERRORS, r


def test_body_tampered_after_signing(node):
    body = json.dumps({"Name": "default"})
    headers = sigv4_headers(host=node.host_header, body=body, target="AWSEvents.DescribeEventBus")
    r = send_raw(node.port, headers=headers, body=json.dumps({"Name": "other"}))
    assert_aws_error(r, "InvalidSignatureException")


def test_target_tampered_after_signing(node):
    body = json.dumps({})
    headers = sigv4_headers(host=node.host_header, body=body, target="AWSEvents.ListEventBuses")
    headers["X-Amz-Target"] = "AWSEvents.ListRules"
    r = send_raw(node.port, headers=headers, body=body)
    assert_aws_error(r, "InvalidSignatureException")


def test_scope_date_differs_from_x_amz_date(node):
    # §1.3 step 1: the date part must equal the credential-scope date. The exact code is not pinned down.
    yesterday = (utcnow() - datetime.timedelta(days=1)).strftime("%Y%m%d")
    r = sigv4_request(node, "ListEventBuses", {}, scope_date=yesterday)
    assert r.status in (400, 403), r
    assert r.error_type in AUTH_ERRORS, r


def test_signature_garbage(node):
    headers = sigv4_headers(host=node.host_header, body="{}", target="AWSEvents.ListEventBuses")
    headers["Authorization"] = headers["Authorization"].rsplit("Signature=", 1)[0] + "Signature=" + "0" * 64
    assert_aws_error(send_raw(node.port, headers=headers, body="{}"), "InvalidSignatureException")


@pytest.mark.parametrize("auth", [
    "AWS4-HMAC-SHA256",
    "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/events/aws4_request",
    "Basic dGVzdDp0ZXN0",
    "AWS4-HMAC-SHA256 Credential=test, SignedHeaders=host, Signature=abc",
    "garbage",
])
def test_malformed_authorization(node, auth):
    # Not pinned down in the reference (AWS uses IncompleteSignatureException for most of these): a 4xx auth error,
    # never a 5xx, never success.
    r = sigv4_request(node, "ListEventBuses", {}, headers_override={"Authorization": auth})
    assert r.status in (400, 403), r
    assert r.error_type in AUTH_ERRORS, r


def test_signed_header_values_are_canonicalised(node):
    # §1.3 2c: header values trimmed, inner whitespace runs collapsed; names lower-cased and sorted.
    r = sigv4_request(node, "ListEventBuses", {},
                      extra_headers={"X-Custom-Thing": "  a   b \t c  ", "x-amz-meta-Zed": "z"})
    assert r.status == 200, r


def test_unsigned_extra_header_is_ignored(node):
    body = "{}"
    headers = sigv4_headers(host=node.host_header, body=body, target="AWSEvents.ListEventBuses")
    headers["User-Agent"] = "not-signed/1.0"
    headers["X-Unsigned"] = "whatever"
    r = send_raw(node.port, headers=headers, body=body)
    assert r.status == 200, r


def test_unknown_operation(node):
    r = sigv4_request(node, "NoSuchOperation", {})
    assert_aws_error(r, "UnknownOperationException", need_message=False)  # AWS sends it without a message text


def test_wrong_target_prefix(node):
    r = sigv4_request(node, None, {}, extra_headers={"X-Amz-Target": "AmazonSNS.ListTopics"})
    assert_aws_error(r, "UnknownOperationException", need_message=False)


def test_missing_target(node):
    r = sigv4_request(node, None, {})
    assert r.status == 400 or r.status == 404, r
    assert r.error_type, r


def test_auth_checked_before_operation(node):
    # an unauthenticated caller learns nothing about operations
    r = sigv4_request(node, "NoSuchOperation", {}, sign=False)
    assert r.error_type == "MissingAuthenticationTokenException", r


@pytest.mark.parametrize("body", ["{not json", "[]", '"str"', b"\xff\xfe{}"], ids=["broken", "array", "string",
                                                                                 "not-utf8"])
def test_malformed_body(node, body):
    # AWS answers SerializationException for bodies it cannot parse; the exact code is not in the reference.
    r = sigv4_request(node, "ListEventBuses", raw_body=body)
    assert r.status == 400, r
    assert r.error_type, r
    assert r.headers.get("x-amzn-requestid"), r


def test_empty_body_is_empty_request(node):
    # botocore sends "{}" but other clients may send nothing for an op without members
    r = sigv4_request(node, "ListEventBuses", raw_body="")
    assert r.status in (200, 400), r
    if r.status == 400:
        assert r.error_type, r


def test_oversized_body_refused_and_node_survives(node):
    # issue 2 §4: bounded body size. A 4 MiB body must be refused (4xx), not crash or hang the node.
    body = json.dumps({"Name": "x", "Description": "d" * (4 << 20)})
    try:
        r = sigv4_request(node, "CreateEventBus", raw_body=body)
        assert 400 <= r.status < 500, r
    except (ConnectionError, OSError):
        pass  # closing the connection on an oversized body is acceptable
    assert http_get(node.port, "/health")[0] == 200
    assert sigv4_request(node, "ListEventBuses", {}).status == 200


def test_get_on_api_root(node):
    # only POST / is the API; anything else is a client error, not a crash
    status, _ = http_get(node.port, "/")
    assert 400 <= status < 500


def test_health_and_ready(node):
    status, body = http_get(node.port, "/health")
    assert status == 200
    assert isinstance(json.loads(body), dict)
    status, body = http_get(node.port, "/ready")
    assert status == 200
    assert isinstance(json.loads(body), dict)


def test_boto3_error_shape_fields(events):
    with pytest.raises(ClientError) as ei:
        events.describe_event_bus(Name="no-such-bus-for-shape")
    resp = ei.value.response
    assert resp["Error"]["Code"] == "ResourceNotFoundException"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert resp["ResponseMetadata"]["RequestId"]
    assert resp["ResponseMetadata"]["HTTPHeaders"]["content-type"].startswith("application/x-amz-json-1.1")
