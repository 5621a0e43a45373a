"""Fixtures for the Busbar integration suite.

Every test here talks to a real `busbar dev` process on loopback:

* `node` (module scope) — one single-node cluster per test module; tests share it and use unique names.
* `fresh_node` (function scope) — a node of its own, for tests that restart or kill -9 it.
* `events` / `events_nv` — boto3 clients for `node` (the second with client-side parameter validation off, for
  values botocore would refuse itself: missing required members, strings under their min length, ints under min).
* `aws` — runs Debian's AWS CLI v2 (`/usr/bin/aws`) against `node` with an isolated HOME.
* `sigv4_request()` — a small pure-Python SigV4 signer + http.client sender, for requests with a chosen
  date/key/secret/region or hand-made bodies and headers.

The binary is $BUSBAR_BIN (default <repo>/build/busbar). Its stdout/stderr go to files in the test's temp dir
and are attached to the report of any failing test that used the node.
"""

import datetime
import hashlib
import hmac
import http.client
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import uuid

import boto3
import botocore.config
import botocore.loaders
import botocore.session
import pytest
from botocore.exceptions import ClientError

BUSBAR_BIN = os.environ.get("BUSBAR_BIN", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "busbar"))
AWS_CLI = "/usr/bin/aws"  # Debian's AWS CLI v2 — not the `aws` first on PATH (a different v1)
ACCOUNT = "000000000000"
REGION = "us-east-1"
ACCESS_KEY = "test"
SECRET_KEY = "test"
READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 20.0


def bus_arn(name):
    return f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}"


def rule_arn(name, bus="default"):
    if bus == "default":
        return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"
    return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{bus}/{name}"


_uniq = itertools.count(1)


def uniq(prefix="t"):
    """A name unique within the run that fits the 64-char rule/target-id limit and the [.-_A-Za-z0-9] set."""
    return f"{prefix}-{next(_uniq)}-{uuid.uuid4().hex[:8]}"


# ---------------------------------------------------------------------------------------------------------------
# ports and process management


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (held open together so they differ, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def http_get(port, path, timeout=2.0):
    """GET http://127.0.0.1:port/path → (status, body bytes). Raises OSError when nothing listens."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


class BusbarNode:
    """One `busbar dev` process on a data dir that outlives restarts."""

    def __init__(self, workdir, extra_args=()):
        self.workdir = str(workdir)
        self.extra_args = list(extra_args)  # more `busbar dev` flags, e.g. ["--max-inflight", "1"]
        self.data_dir = os.path.join(self.workdir, "data")
        self.port, self.raft_port = free_ports(2)
        self.proc = None
        self.generation = 0  # how many times started
        self.stdout_path = None
        self.stderr_path = None
        self.log_paths = []

    # -- addresses
    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def host_header(self):
        return f"127.0.0.1:{self.port}"

    # -- lifecycle
    def start(self, wait=True):
        assert self.proc is None, "node already running"
        if not os.path.exists(BUSBAR_BIN):
            pytest.fail(f"busbar binary not found at {BUSBAR_BIN} (set BUSBAR_BIN)")
        self.generation += 1
        self.stdout_path = os.path.join(self.workdir, f"busbar.{self.generation}.stdout")
        self.stderr_path = os.path.join(self.workdir, f"busbar.{self.generation}.stderr")
        self.log_paths += [self.stdout_path, self.stderr_path]
        args = [
            BUSBAR_BIN, "dev",
            "--data-dir", self.data_dir,
            "--listen", f"127.0.0.1:{self.port}",
            "--raft-listen", f"127.0.0.1:{self.raft_port}",
        ] + self.extra_args
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(args, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         cwd=self.workdir, start_new_session=True)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=READY_TIMEOUT_S):
        """Poll GET /ready until 200 (bounded); fail with the logs if the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.proc = None
                pytest.fail(f"busbar exited with {rc} before ready\n{self.logs()}")
            try:
                status, body = http_get(self.port, "/ready", timeout=1.0)
                last = (status, body)
                if status == 200:
                    return json.loads(body)
            except (OSError, http.client.HTTPException) as e:
                last = repr(e)
            time.sleep(0.05)
        pytest.fail(f"busbar not ready after {timeout}s (last: {last!r})\n{self.logs()}")

    def stop(self, expect_rc=0, sig=signal.SIGTERM):
        """SIGTERM (or sig), wait (bounded), assert the exit status."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        proc.send_signal(sig)
        try:
            rc = proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            pytest.fail(f"busbar did not exit within {STOP_TIMEOUT_S}s of {sig!r}\n{self.logs()}")
        if expect_rc is not None:
            assert rc == expect_rc, f"busbar exited with {rc} after {sig!r}, expected {expect_rc}\n{self.logs()}"
        return rc

    def kill9(self):
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        proc.kill()
        proc.wait(timeout=10)

    def restart(self, wait=True):
        """Clean stop (asserting exit 0), then start again on the same data dir and ports."""
        self.stop()
        return self.start(wait=wait)

    def is_running(self):
        return self.proc is not None and self.proc.poll() is None

    # -- diagnostics
    def logs(self, tail=6000):
        parts = []
        for p in self.log_paths:
            try:
                with open(p, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            text = data[-tail:].decode("utf-8", "replace")
            parts.append(f"----- {os.path.basename(p)} ({len(data)} bytes, last {min(tail, len(data))}) -----\n"
                         f"{text}")
        return "\n".join(parts)

    def read_stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    # -- clients
    def client(self, validate=True):
        return make_client(self.endpoint, validate=validate)


# Debian 12's botocore (1.29) carries a 2022 `events` model: no UpdateEventBus, no Description/KmsKeyIdentifier/
# DeadLetterConfig/LogConfig on CreateEventBus, no Description/CreationTime/LastModifiedTime in DescribeEventBus and
# ListEventBuses output. The reference (botocore 1.43, Appendix A3/A4) has them, and a current SDK sends/parses them.
# We overlay exactly those members onto the installed model (written to a temp dir searched first by the loader),
# so boto3 here behaves like a current SDK for these operations. Everything else is the installed model verbatim.

def _events_model_overlay():
    loader = botocore.loaders.create_loader()
    m = loader.load_service_model("events", "service-2")
    sh, ops = m["shapes"], m["operations"]
    if "UpdateEventBus" in ops:  # a newer botocore already has all of this
        return None
    sh["BbDescription"] = {"type": "string", "max": 512}
    sh["BbKmsKeyIdentifier"] = {"type": "string", "max": 2048, "pattern": "^[a-zA-Z0-9_\\-/:]*$"}
    sh["BbEventBusName"] = {"type": "string", "max": 256, "min": 1, "pattern": "[/\\.\\-_A-Za-z0-9]+"}
    sh["BbIncludeDetail"] = {"type": "string", "enum": ["NONE", "FULL"]}
    sh["BbLevel"] = {"type": "string", "enum": ["OFF", "ERROR", "INFO", "TRACE"]}
    sh["BbLogConfig"] = {"type": "structure", "members": {"IncludeDetail": {"shape": "BbIncludeDetail"},
                                                          "Level": {"shape": "BbLevel"}}}
    extra = {"Description": {"shape": "BbDescription"}, "KmsKeyIdentifier": {"shape": "BbKmsKeyIdentifier"},
             "DeadLetterConfig": {"shape": "DeadLetterConfig"}, "LogConfig": {"shape": "BbLogConfig"}}
    times = {"CreationTime": {"shape": "Timestamp"}, "LastModifiedTime": {"shape": "Timestamp"}}
    sh["CreateEventBusRequest"]["members"].update(extra)
    sh["CreateEventBusResponse"]["members"].update(extra)
    sh["DescribeEventBusResponse"]["members"].update(dict(extra, **times))
    sh["EventBus"]["members"].update(dict({"Description": {"shape": "BbDescription"}}, **times))
    sh["UpdateEventBusRequest"] = {"type": "structure", "members": dict({"Name": {"shape": "BbEventBusName"}},
                                                                        **extra)}
    sh["UpdateEventBusResponse"] = {"type": "structure", "members": dict(
        {"Arn": {"shape": "String"}, "Name": {"shape": "BbEventBusName"}}, **extra)}
    ops["UpdateEventBus"] = {
        "name": "UpdateEventBus", "http": {"method": "POST", "requestUri": "/"},
        "input": {"shape": "UpdateEventBusRequest"}, "output": {"shape": "UpdateEventBusResponse"},
        "errors": [{"shape": "ResourceNotFoundException"}, {"shape": "InternalException"},
                   {"shape": "ConcurrentModificationException"}, {"shape": "OperationDisabledException"}]}
    d = tempfile.mkdtemp(prefix="busbar-botocore-models-")
    path = os.path.join(d, "events", m["metadata"]["apiVersion"])
    os.makedirs(path)
    with open(os.path.join(path, "service-2.json"), "w") as f:
        json.dump(m, f)
    return d


_MODEL_DIR = _events_model_overlay()


def make_client(endpoint, validate=True, key=ACCESS_KEY, secret=SECRET_KEY, region=REGION):
    cfg = botocore.config.Config(retries={"max_attempts": 1}, parameter_validation=validate,
                                 connect_timeout=5, read_timeout=30)
    bs = botocore.session.get_session()
    if _MODEL_DIR:
        bs.get_component("data_loader").search_paths.insert(0, _MODEL_DIR)
    return boto3.session.Session(botocore_session=bs).client(
        "events", endpoint_url=endpoint, region_name=region,
        aws_access_key_id=key, aws_secret_access_key=secret, config=cfg)


# Debian's botocore 1.29 speaks the SQS *query* protocol (form POST, XML answers); current SDKs speak AWS JSON 1.0
# (`AmazonSQS.<Op>`, awsQueryCompatible). `make_sqs_client(protocol="json")` loads the installed sqs model rewritten
# to JSON 1.0 — the shape of the current model: no XML names, MessageSystemAttributeNames on ReceiveMessage — so
# both protocols are driven by a real botocore.

def _sqs_json_model_dir():
    m = botocore.loaders.create_loader().load_service_model("sqs", "service-2")
    if m["metadata"]["protocol"] == "json":
        return None
    m["metadata"].update(protocol="json", jsonVersion="1.0", targetPrefix="AmazonSQS", awsQueryCompatible={})

    def strip(d):
        if isinstance(d, dict):
            for k in ("locationName", "flattened", "xmlNamespace", "resultWrapper"):
                d.pop(k, None)
            for v in d.values():
                strip(v)
        elif isinstance(d, list):
            for v in d:
                strip(v)
    strip(m["shapes"])
    strip(m["operations"])
    m["shapes"]["ReceiveMessageRequest"]["members"].setdefault(
        "MessageSystemAttributeNames", {"shape": "AttributeNameList"})
    d = tempfile.mkdtemp(prefix="busbar-botocore-sqs-json-")
    os.makedirs(os.path.join(d, "sqs", m["metadata"]["apiVersion"]))
    with open(os.path.join(d, "sqs", m["metadata"]["apiVersion"], "service-2.json"), "w") as f:
        json.dump(m, f)
    return d


_SQS_JSON_MODEL_DIR = _sqs_json_model_dir()


def make_sqs_client(endpoint, protocol="query", validate=True, key=ACCESS_KEY, secret=SECRET_KEY, region=REGION):
    """boto3 sqs client: protocol "query" (the installed model) or "json" (AWS JSON 1.0, see above)."""
    cfg = botocore.config.Config(retries={"max_attempts": 1}, parameter_validation=validate,
                                 connect_timeout=5, read_timeout=60)
    bs = botocore.session.get_session()
    if protocol == "json" and _SQS_JSON_MODEL_DIR:
        bs.get_component("data_loader").search_paths.insert(0, _SQS_JSON_MODEL_DIR)
    return boto3.session.Session(botocore_session=bs).client(
        "sqs", endpoint_url=endpoint, region_name=region,
        aws_access_key_id=key, aws_secret_access_key=secret, config=cfg)


@pytest.fixture(scope="module")
def sqs(node):
    """boto3 sqs client for `node` in the protocol this machine's botocore speaks (query)."""
    return make_sqs_client(node.endpoint)


@pytest.fixture(scope="module")
def sqs_json(node):
    """boto3 sqs client for `node` speaking AWS JSON 1.0 (AmazonSQS.*)."""
    return make_sqs_client(node.endpoint, protocol="json")


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    n = BusbarNode(tmp_path_factory.mktemp("busbar"))
    n.start()
    yield n
    if n.proc is not None and n.proc.poll() is not None:
        rc, n.proc = n.proc.returncode, None
        pytest.fail(f"module node died during the tests (exit {rc})\n{n.logs()}")
    n.stop()


@pytest.fixture
def fresh_node(tmp_path):
    n = BusbarNode(tmp_path)
    n.start()
    yield n
    if n.proc is not None:
        if n.proc.poll() is not None:
            rc, n.proc = n.proc.returncode, None
            pytest.fail(f"node died during the test (exit {rc})\n{n.logs()}")
        n.stop()


@pytest.fixture(scope="module")
def events(node):
    return node.client()


@pytest.fixture(scope="module")
def events_nv(node):
    """Same node, client-side parameter validation off (lets botocore send what it would refuse)."""
    return node.client(validate=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the logs of every busbar node the test used to a failing report."""
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    seen = set()
    for v in getattr(item, "funcargs", {}).values():
        for n in (v if isinstance(v, (list, tuple)) else [v]):
            if isinstance(n, BusbarNode) and id(n) not in seen:
                seen.add(id(n))
                rep.sections.append((f"busbar node :{n.port} logs", n.logs()))


# ---------------------------------------------------------------------------------------------------------------
# error assertions


def call_error(fn, *args, **kwargs):
    """Run a boto3 call that must fail; return the parsed error response."""
    with pytest.raises(ClientError) as ei:
        fn(*args, **kwargs)
    return ei.value.response


def short(text):
    """Long runs of one character shown as `x{N}` so failure output of long-value tests stays readable."""
    return re.sub(r"(.)\1{15,}", lambda m: f"{m.group(1)}{{{len(m.group(0))}}}", str(text))


def assert_error(fn, code, message=None, *, status=400, startswith=None, contains=None, **kwargs):
    """Call fn(**kwargs), expect ClientError with this code, HTTP status, request id, and message rules."""
    resp = call_error(fn, **kwargs)
    err = resp["Error"]
    meta = resp["ResponseMetadata"]
    ctx = short(f"\nrequest  {kwargs!r}\nexpected {code}: {message!r}\nresponse {err!r} "
                f"HTTP {meta.get('HTTPStatusCode')}")
    assert err.get("Code") == code, ctx
    if status is not None:
        assert meta["HTTPStatusCode"] == status, ctx
    assert meta.get("RequestId"), "x-amzn-RequestId missing\n" + ctx
    msg = err.get("Message")
    if message is not None and msg != message:
        if not (_is_multi_violation(message) and _violations(msg) == _violations(message)):
            raise AssertionError("error message differs" + ctx)
    if startswith is not None:
        assert msg is not None and msg.startswith(startswith), ctx
    if contains is not None:
        for c in ([contains] if isinstance(contains, str) else contains):
            assert msg is not None and c in msg, ctx
    return resp


def validation_msg(*violations):
    """AWS (Coral) constraint message: violations are (value, path, constraint) tuples; value None → `null`."""
    parts = []
    for value, path, constraint in violations:
        shown = "null" if value is None else f"'{value}'"
        parts.append(f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}")
    n = len(parts)
    head = f"{n} validation error{'s' if n != 1 else ''} detected: "
    return head + "; ".join(parts)


def _is_multi_violation(message):
    return re.match(r"^\d+ validation errors detected: ", message) is not None


def _violations(message):
    """(count, sorted parts) of a Coral constraint message. Several violations are compared as a set: AWS joins
    them with "; " but their order is not specified (observed AWS messages list them in varying orders)."""
    m = re.match(r"^(\d+) validation errors? detected: (.*)$", message or "", re.S)
    if not m:
        return None
    parts = re.split(r"; (?=Value )", m.group(2))
    return int(m.group(1)), sorted(parts)


MAX_LEN = "Member must have length less than or equal to {}".format
MIN_LEN = "Member must have length greater than or equal to {}".format
MAX_VAL = "Member must have value less than or equal to {}".format
MIN_VAL = "Member must have value greater than or equal to {}".format
REGEX = "Member must satisfy regular expression pattern: {}".format
NOT_NULL = "Member must not be null"
ENUM = "Member must satisfy enum value set: {}".format
RE_NAME = r"[\.\-_A-Za-z0-9]+"
RE_BUS_NAME = r"[/\.\-_A-Za-z0-9]+"
RE_BUS_OR_ARN = r"(arn:aws[\w-]*:events:[a-z]+-[a-z]+-[\w-]+:[0-9]{12}:event-bus\/)?[/\.\-_A-Za-z0-9]+"
RULE_STATES = "[ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS]"
PATTERN_PREFIX = "Event pattern is not valid. Reason: "


def strip_meta(resp):
    """A boto3 response without ResponseMetadata (for comparing state before/after restarts)."""
    return {k: v for k, v in resp.items() if k != "ResponseMetadata"}


# ---------------------------------------------------------------------------------------------------------------
# SigV4 by hand


def _hmac(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def _canon_value(v):
    return " ".join(str(v).strip().split())


def sigv4_headers(*, host, body, target=None, key=ACCESS_KEY, secret=SECRET_KEY, region=REGION, service="events",
                  when=None, scope_date=None, method="POST", path="/", query="", extra_headers=None):
    """Headers for a SigV4-signed AWS JSON 1.1 request.

    when: datetime (UTC) used for X-Amz-Date (default now); scope_date: override the credential-scope date string;
    extra_headers: more headers, sent and signed (values canonicalised: trimmed, inner whitespace runs collapsed).
    """
    if when is None:
        when = datetime.datetime.now(datetime.timezone.utc)
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    date = scope_date or when.strftime("%Y%m%d")
    if isinstance(body, str):
        body = body.encode("utf-8")
    headers = {"Host": host, "X-Amz-Date": amz_date, "Content-Type": "application/x-amz-json-1.1"}
    if target is not None:
        headers["X-Amz-Target"] = target
    headers.update(extra_headers or {})
    signed = sorted({k.lower(): k for k in headers}.items())
    canon_headers = "".join(f"{lk}:{_canon_value(headers[k])}\n" for lk, k in signed)
    signed_names = ";".join(lk for lk, _ in signed)
    canon_query = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
        for k, v in sorted(urllib.parse.parse_qsl(query, keep_blank_values=True)))
    creq = "\n".join([method, path, canon_query, canon_headers, signed_names, hashlib.sha256(body).hexdigest()])
    scope = f"{date}/{region}/{service}/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = _hmac(("AWS4" + secret).encode(), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    k = _hmac(k, "aws4_request")
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={signed_names}, "
                                f"Signature={sig}")
    return headers


class RawResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # dict, lower-case names
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    @property
    def error_type(self):
        t = (self.json or {}).get("__type") if isinstance(self.json, dict) else None
        if t:  # botocore strips anything after ':' and before the last '#'
            t = t.split(":")[0].split("#")[-1]
        return t

    @property
    def message(self):
        if not isinstance(self.json, dict):
            return None
        return self.json.get("message", self.json.get("Message"))

    def __repr__(self):
        return f"<{self.status} {self.headers!r} {self.body[:2000]!r}>"


def send_raw(port, method="POST", path="/", headers=None, body=b"", timeout=30.0):
    if isinstance(body, str):
        body = body.encode("utf-8")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        if body:
            conn.send(body)
        r = conn.getresponse()
        return RawResponse(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def sigv4_request(node, op, payload=None, *, raw_body=None, sign=True, headers_override=None, **sign_kwargs):
    """POST one AWS JSON 1.1 call `AWSEvents.<op>` signed by our own signer; returns RawResponse."""
    body = raw_body if raw_body is not None else json.dumps(payload if payload is not None else {})
    target = f"AWSEvents.{op}" if op is not None else None
    if sign:
        headers = sigv4_headers(host=node.host_header, body=body, target=target, **sign_kwargs)
    else:
        headers = {"Host": node.host_header, "Content-Type": "application/x-amz-json-1.1",
                   "X-Amz-Date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")}
        if target:
            headers["X-Amz-Target"] = target
    if headers_override:
        for k, v in headers_override.items():
            for existing in [h for h in headers if h.lower() == k.lower()]:
                del headers[existing]
            if v is not None:
                headers[k] = v
    return send_raw(node.port, headers=headers, body=body)


# ---------------------------------------------------------------------------------------------------------------
# AWS CLI


class AwsCli:
    def __init__(self, endpoint, home):
        self.endpoint = endpoint
        self.home = str(home)
        os.makedirs(self.home, exist_ok=True)

    def env(self):
        return {
            "PATH": "/usr/bin:/bin",
            "HOME": self.home,
            "LANG": "C.UTF-8",
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": os.path.join(self.home, "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.home, "no-credentials"),
            "AWS_PAGER": "",
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_RETRY_MODE": "standard",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def __call__(self, *args, timeout=60, env=None, raw=False):
        """Run `/usr/bin/aws --endpoint-url ... --output json <args>` → (rc, parsed stdout or None, stderr).
        env: extra/overriding environment variables; raw: args are the whole command line after `aws`."""
        cmd = [AWS_CLI, *[str(a) for a in args]] if raw else \
            [AWS_CLI, "--endpoint-url", self.endpoint, "--output", "json", *[str(a) for a in args]]
        e = self.env()
        e.update(env or {})
        p = subprocess.run(cmd, env=e, cwd=self.home, capture_output=True, timeout=timeout)
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        parsed = None
        if out.strip():
            try:
                parsed = json.loads(out)
            except ValueError:
                parsed = out
        return p.returncode, parsed, err

    def ok(self, *args, timeout=60, env=None):
        rc, out, err = self(*args, timeout=timeout, env=env)
        assert rc == 0, f"aws {' '.join(map(str, args))} → rc {rc}\nstdout: {out!r}\nstderr: {err}"
        return out


@pytest.fixture(scope="module")
def aws(node, tmp_path_factory):
    return AwsCli(node.endpoint, tmp_path_factory.mktemp("awshome"))
