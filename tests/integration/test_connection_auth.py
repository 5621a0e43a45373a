"""What a connection adds to API-destination deliveries, against real local HTTP servers: BASIC and API_KEY
headers, HttpParameters (path parameters, headers, query strings; the connection's and the target's), and
OAUTH_CLIENT_CREDENTIALS end to end — the token fetched from a real token endpoint with the client's
credentials, cached across deliveries, fetched again on a 401 and near expiry, the connection turning
AUTHORIZED (and its API destination ACTIVE), a failing token endpoint retried under the target's policy into
the DLQ, and a slow token endpoint not holding up other targets."""

import base64
import json
import time
import urllib.parse

import pytest

from conftest import BusbarNode, make_sqs_client, uniq
from sinks import Sink
from test_delivery import make_queue, publish, receive_all, rule_with

FAST = ["--retry-base-ms", "40", "--retry-max-ms", "400", "--http-timeout-ms", "1500"]
CLIENT_ID, CLIENT_SECRET = "busbar-client", "cl!ent s3cret"


@pytest.fixture(scope="module")
def anode(tmp_path_factory):
    n = BusbarNode(tmp_path_factory.mktemp("connauth"), FAST)
    n.start()
    yield n
    n.stop()


@pytest.fixture(scope="module")
def ev(anode):
    return anode.client()


@pytest.fixture
def sink():
    s = Sink()
    yield s
    s.close()


class TokenEndpoint(Sink):
    """A client-credentials token endpoint: answers tok-1, tok-2, ... to requests carrying the client's Basic
    credentials and grant_type=client_credentials; 401 to anything else. `fail_with` makes it answer that status."""

    def __init__(self, expires_in=3600):
        super().__init__()
        self.expires_in = expires_in
        self.fail_with = None
        self.issued = 0
        self.answer = self._answer

    def _answer(self, req):
        if self.fail_with:
            return self.fail_with, b'{"error":"server_error"}'
        want = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        form = urllib.parse.parse_qs(req["body"] or urllib.parse.urlparse(req["path"]).query)
        if req["headers"].get("Authorization") != want or form.get("grant_type") != ["client_credentials"]:
            return 401, b'{"error":"invalid_client"}'
        self.issued += 1
        return 200, json.dumps({"access_token": f"tok-{self.issued}", "token_type": "Bearer",
                                "expires_in": self.expires_in}).encode()


def destination(ev, url, auth_type, params, method="POST"):
    conn = ev.create_connection(Name=uniq("conn"), AuthorizationType=auth_type, AuthParameters=params)
    d = ev.create_api_destination(Name=uniq("dest"), ConnectionArn=conn["ConnectionArn"], InvocationEndpoint=url,
                                  HttpMethod=method, InvocationRateLimitPerSecond=300)
    return conn, d["ApiDestinationArn"]


def oauth_params(token, extra_query=None):
    p = {"AuthorizationEndpoint": token.url + "/oauth/token", "HttpMethod": "POST",
         "ClientParameters": {"ClientID": CLIENT_ID, "ClientSecret": CLIENT_SECRET}}
    if extra_query:
        p["OAuthHttpParameters"] = {"QueryStringParameters": [{"Key": k, "Value": v} for k, v in extra_query.items()]}
    return {"OAuthParameters": p}


def wait_state(ev, name, want, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        state = ev.describe_connection(Name=name)["ConnectionState"]
        if state == want or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def test_basic_auth_header(ev, sink):
    _, dest = destination(ev, sink.url + "/b", "BASIC",
                          {"BasicAuthParameters": {"Username": "alice", "Password": "pa:ss"}})
    _, src = rule_with(ev, [{"Id": "b", "Arn": dest}])
    publish(ev, src, [{"n": 1}])
    [req] = sink.wait_for(1)
    assert req["headers"]["Authorization"] == "Basic " + base64.b64encode(b"alice:pa:ss").decode()


def test_http_parameters_of_connection_and_target(ev, sink):
    params = {"ApiKeyAuthParameters": {"ApiKeyName": "X-Key", "ApiKeyValue": "k1"},
              "InvocationHttpParameters": {
                  "HeaderParameters": [{"Key": "X-From-Conn", "Value": "c", "IsValueSecret": False}],
                  "QueryStringParameters": [{"Key": "cq", "Value": "a b", "IsValueSecret": True}]}}
    _, dest = destination(ev, sink.url + "/orders/*/items/*", "API_KEY", params, method="PUT")
    _, src = rule_with(ev, [{"Id": "h", "Arn": dest, "HttpParameters": {
        "PathParameterValues": ["o-17", "i-3"],
        "HeaderParameters": {"X-From-Target": "t"},
        "QueryStringParameters": {"tq": "1"}}}])
    publish(ev, src, [{"n": 1}])
    [req] = sink.wait_for(1)
    path = urllib.parse.urlparse(req["path"])
    assert req["method"] == "PUT" and path.path == "/orders/o-17/items/i-3"
    assert urllib.parse.parse_qs(path.query) == {"cq": ["a b"], "tq": ["1"]}
    h = req["headers"]
    assert h["X-Key"] == "k1" and h["X-From-Conn"] == "c" and h["X-From-Target"] == "t"


def test_oauth_token_fetched_cached_and_refreshed_on_401(ev, sink):
    token = TokenEndpoint()
    try:
        conn, dest = destination(ev, sink.url + "/o", "OAUTH_CLIENT_CREDENTIALS",
                                 oauth_params(token, {"audience": "orders"}))
        assert conn["ConnectionState"] == "AUTHORIZING"
        name = conn["ConnectionArn"].split("/")[1]
        # the first token is fetched right after CreateConnection; the connection then says AUTHORIZED
        assert wait_state(ev, name, "AUTHORIZED") == "AUTHORIZED"
        assert ev.describe_api_destination(Name=dest.split("/")[1])["ApiDestinationState"] == "ACTIVE"
        [treq] = token.wait_for(1)
        assert treq["path"].startswith("/oauth/token")
        assert "audience=orders" in treq["path"] + treq["body"]
        assert treq["headers"]["Content-Type"] == "application/x-www-form-urlencoded"

        _, src = rule_with(ev, [{"Id": "o", "Arn": dest}])
        publish(ev, src, [{"i": i} for i in range(3)])
        reqs = sink.wait_for(3)
        assert [r["headers"]["Authorization"] for r in reqs] == ["Bearer tok-1"] * 3
        assert token.issued == 1  # cached: one token for the connection, not one per delivery

        sink.plan = [401]  # the endpoint rejects the token once: dropped, a new one fetched, retried
        publish(ev, src, [{"i": 99}])
        reqs = sink.wait_for(5)
        assert [r["status"] for r in reqs[3:]] == [401, 200]
        assert reqs[3]["headers"]["Authorization"] == "Bearer tok-1"
        assert reqs[4]["headers"]["Authorization"] == "Bearer tok-2"
        assert token.issued == 2
        assert "cl!ent" not in json.dumps(ev.describe_connection(Name=name), default=str)
    finally:
        token.close()


def test_oauth_token_fetched_again_near_expiry(ev, sink):
    token = TokenEndpoint(expires_in=6)  # used until 5 s before expiry: about one second
    try:
        _, dest = destination(ev, sink.url, "OAUTH_CLIENT_CREDENTIALS", oauth_params(token))
        _, src = rule_with(ev, [{"Id": "o", "Arn": dest}])
        publish(ev, src, [{"i": 1}])
        assert sink.wait_for(1)[0]["headers"]["Authorization"].startswith("Bearer tok-")
        time.sleep(1.5)
        publish(ev, src, [{"i": 2}])
        reqs = sink.wait_for(2)
        assert reqs[1]["headers"]["Authorization"] != reqs[0]["headers"]["Authorization"]
    finally:
        token.close()


def test_failing_token_endpoint_retries_into_dlq(anode, ev, sink):
    token = TokenEndpoint()
    token.fail_with = 500
    sqs = make_sqs_client(anode.endpoint)
    try:
        conn, dest = destination(ev, sink.url, "OAUTH_CLIENT_CREDENTIALS", oauth_params(token))
        qurl, qarn = make_queue(sqs)
        _, src = rule_with(ev, [{"Id": "o", "Arn": dest, "DeadLetterConfig": {"Arn": qarn},
                                 "RetryPolicy": {"MaximumRetryAttempts": 1}}])
        [eid] = publish(ev, src, [{"i": 1}])
        [m] = receive_all(sqs, qurl, 1, timeout=30)
        assert json.loads(m["Body"])["id"] == eid
        attrs = {k: v["StringValue"] for k, v in m["MessageAttributes"].items()}
        assert "OAuth token request failed" in attrs["ERROR_MESSAGE"] and "500" in attrs["ERROR_MESSAGE"]
        assert attrs["RETRY_ATTEMPTS"] == "1"
        assert sink.requests == []  # nothing was sent without a token
        name = conn["ConnectionArn"].split("/")[1]
        assert ev.describe_connection(Name=name)["ConnectionState"] == "AUTHORIZING"
        assert CLIENT_SECRET not in anode.logs()
    finally:
        token.close()


def test_slow_token_endpoint_does_not_hold_up_other_targets(ev, sink):
    token = TokenEndpoint()
    token.delay_s = 4.0
    other = Sink()
    try:
        _, oauth_dest = destination(ev, sink.url, "OAUTH_CLIENT_CREDENTIALS", oauth_params(token))
        _, key_dest = destination(ev, other.url, "API_KEY",
                                  {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "v"}})
        _, src = rule_with(ev, [{"Id": "o", "Arn": oauth_dest}, {"Id": "k", "Arn": key_dest}])
        publish(ev, src, [{"i": i} for i in range(20)])
        # the API-key target gets everything while the token endpoint is still answering its first request
        assert len(other.wait_for(20, timeout=10)) == 20
        assert sink.requests == [], "OAuth deliveries started without a token"
        assert len(sink.wait_for(20, timeout=20)) == 20  # then the OAuth target gets its events, none lost
        assert {r["headers"]["Authorization"] for r in sink.requests} == {"Bearer tok-1"}
    finally:
        other.close()
        token.close()
