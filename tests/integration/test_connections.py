"""Connections and API destinations (control plane) as AWS answers them (LocalStack's AWS-recorded
test_api_destinations_and_connection snapshots): states, secrets never returned, messages, listing."""

import pytest

from conftest import ACCOUNT, REGION, assert_error, uniq

API_KEY = {"ApiKeyAuthParameters": {"ApiKeyName": "ApiKey", "ApiKeyValue": "secret"}}


def test_connection_lifecycle(events):
    name = uniq("conn")
    r = events.create_connection(Name=name, AuthorizationType="API_KEY", AuthParameters=API_KEY)
    assert r["ConnectionState"] == "AUTHORIZED"
    assert r["ConnectionArn"].startswith(f"arn:aws:events:{REGION}:{ACCOUNT}:connection/{name}/")
    d = events.describe_connection(Name=name)
    assert d["AuthParameters"] == {"ApiKeyAuthParameters": {"ApiKeyName": "ApiKey"}}  # no secret
    assert d["SecretArn"].startswith(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:events!connection/{name}/")
    assert_error(events.create_connection, "ResourceAlreadyExistsException", Name=name, AuthorizationType="API_KEY",
                 AuthParameters=API_KEY)
    events.update_connection(Name=name, AuthorizationType="BASIC",
                             AuthParameters={"BasicAuthParameters": {"Username": "u", "Password": "p"}})
    d = events.describe_connection(Name=name)
    assert d["AuthorizationType"] == "BASIC" and d["AuthParameters"] == {"BasicAuthParameters": {"Username": "u"}}
    assert events.deauthorize_connection(Name=name)["ConnectionState"] == "DEAUTHORIZED"
    assert events.delete_connection(Name=name)["ConnectionState"] == "DELETING"
    assert_error(events.describe_connection, "ResourceNotFoundException",
                 f"Failed to describe the connection(s). Connection '{name}' does not exist.", Name=name)


def test_oauth_connection_is_authorizing_and_hides_secret(events):
    name = uniq("oauth")
    r = events.create_connection(Name=name, AuthorizationType="OAUTH_CLIENT_CREDENTIALS", AuthParameters={
        "OAuthParameters": {"AuthorizationEndpoint": "https://example.com/oauth", "HttpMethod": "POST",
                            "ClientParameters": {"ClientID": "client_id", "ClientSecret": "client_secret"}}})
    assert r["ConnectionState"] == "AUTHORIZING"
    d = events.describe_connection(Name=name)
    assert d["AuthParameters"]["OAuthParameters"]["ClientParameters"] == {"ClientID": "client_id"}


def test_connection_validation(events_nv):
    assert_error(events_nv.create_connection, "ValidationException",
                 "1 validation error detected: Value 'INVALID_AUTH_TYPE' at 'authorizationType' failed to satisfy "
                 "constraint: Member must satisfy enum value set: [BASIC, OAUTH_CLIENT_CREDENTIALS, API_KEY]",
                 Name=uniq("c"), AuthorizationType="INVALID_AUTH_TYPE", AuthParameters=API_KEY)
    assert_error(events_nv.create_connection, "ValidationException",
                 "1 validation error detected: Value 'Invalid Name With Spaces!' at 'name' failed to satisfy "
                 "constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+",
                 Name="Invalid Name With Spaces!", AuthorizationType="API_KEY", AuthParameters=API_KEY)


def test_api_destination_lifecycle(events):
    conn = events.create_connection(Name=uniq("c"), AuthorizationType="API_KEY", AuthParameters=API_KEY)["ConnectionArn"]
    name = uniq("dest")
    r = events.create_api_destination(Name=name, ConnectionArn=conn, InvocationEndpoint="https://example.com/api",
                                      HttpMethod="POST", Description="Test API destination")
    assert r["ApiDestinationState"] == "ACTIVE"
    d = events.describe_api_destination(Name=name)
    assert d["InvocationRateLimitPerSecond"] == 300 and d["ConnectionArn"] == conn
    events.update_api_destination(Name=name, InvocationEndpoint="https://example.com/api/v2", HttpMethod="PUT")
    d = events.describe_api_destination(Name=name)
    assert (d["InvocationEndpoint"], d["HttpMethod"]) == ("https://example.com/api/v2", "PUT")
    names = [x["Name"] for x in events.list_api_destinations(NamePrefix=name)["ApiDestinations"]]
    assert names == [name]
    events.delete_api_destination(Name=name)
    assert_error(events.describe_api_destination, "ResourceNotFoundException",
                 f"Failed to describe the api-destination(s). An api-destination '{name}' does not exist.", Name=name)


def test_api_destination_validation(events_nv):
    msg = assert_error(events_nv.create_api_destination, "ValidationException", Name=uniq("d"),
                       ConnectionArn="invalid-connection-arn", InvocationEndpoint="https://example.com",
                       HttpMethod="INVALID_METHOD")["Error"]["Message"]
    assert msg.startswith("2 validation errors detected: Value 'invalid-connection-arn' at 'connectionArn'")
    assert "Value 'INVALID_METHOD' at 'httpMethod' failed to satisfy constraint: Member must satisfy enum value set" in msg


def test_list_connections_paginates(events):
    prefix = uniq("page")
    for i in range(3):
        events.create_connection(Name=f"{prefix}-{i}", AuthorizationType="API_KEY", AuthParameters=API_KEY)
    r = events.list_connections(NamePrefix=prefix, Limit=2)
    assert [c["Name"] for c in r["Connections"]] == [f"{prefix}-0", f"{prefix}-1"] and r.get("NextToken")
    r = events.list_connections(NamePrefix=prefix, Limit=2, NextToken=r["NextToken"])
    assert [c["Name"] for c in r["Connections"]] == [f"{prefix}-2"]
    assert "ApiKeyAuthParameters" not in str(r)


def test_secrets_never_echoed_in_errors(events_nv):
    secret = "S3CRET-" + "x" * 600
    r = assert_error(events_nv.create_connection, "ValidationException", Name=uniq("c"), AuthorizationType="API_KEY",
                     AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": secret}})
    msg = r["Error"]["Message"]
    assert "S3CRET" not in msg
    assert ("Value at 'authParameters.apiKeyAuthParameters.apiKeyValue' failed to satisfy constraint: "
            "Member must have length less than or equal to 512") in msg
