"""IAM per registered access key: actions, resources, dynamodb:LeadingKeys, the log and forgetting."""

import pytest
from botocore.exceptions import ClientError

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/"


def denied(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    error = raised.value.response
    assert error["Error"]["Code"] == "AccessDeniedException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error["Error"]["Message"]


def key(pk: str, sk: str = "a") -> dict:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


@pytest.fixture
def sites(server):
    """A table and a CollectFunction principal allowed on SITE#* only."""
    table = server.table()
    access_key = f"AKID{table.upper()}"
    server.control("POST", "/_pulse/principals", {
        "access_key_id": access_key, "function": "CollectFunction",
        "statements": [
            {"sid": "SiteRegistry", "actions": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
                                                 "dynamodb:UpdateItem"],
             "resources": [ARN + table, ARN + table + "/index/*"],
             "condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["SITE#*"]}}},
            {"sid": "Describe", "actions": ["dynamodb:Describe*"], "resources": [ARN + table]},
        ]})
    yield table, access_key, server.client(access_key)
    server.control("DELETE", f"/_pulse/principals/{access_key}")


def test_leading_keys_allow_sites_and_deny_salt(server, sites):
    table, access_key, client = sites
    client.put_item(TableName=table, Item={**key("SITE#1"), "v": {"S": "x"}})
    assert client.get_item(TableName=table, Key=key("SITE#1"))["Item"]["v"] == {"S": "x"}
    message = denied(client.get_item, TableName=table, Key=key("SALT"))
    assert message == (f"User: arn:aws:sts::123456789012:assumed-role/CollectFunction/local is not authorized to "
                       f"perform: dynamodb:GetItem on resource: {ARN}{table} because no identity-based policy "
                       f"allows the dynamodb:GetItem action (dynamodb:LeadingKeys: SALT)")
    assert "dynamodb:GetItem on resource" in server.stderr()
    assert client.describe_table(TableName=table)["Table"]["TableName"] == table


def test_query_is_checked_on_its_partition_key(sites):
    table, _, client = sites
    names = {"#p": "pk"}
    assert client.query(TableName=table, KeyConditionExpression="#p = :v AND sk > :s", ExpressionAttributeNames=names,
                        ExpressionAttributeValues={":v": {"S": "SITE#2"}, ":s": {"S": "0"}})["Count"] == 0
    message = denied(client.query, TableName=table, KeyConditionExpression=":v = pk",
                     ExpressionAttributeValues={":v": {"S": "SALT"}})
    assert "dynamodb:Query" in message and "LeadingKeys: SALT" in message
    denied(client.query, TableName=table, KeyConditions={
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "SALT"}]}})
    # No statement names Scan.
    assert "dynamodb:Scan" in denied(client.scan, TableName=table)


def test_transaction_elements_are_checked_as_their_own_actions(sites):
    table, _, client = sites
    put = {"Put": {"TableName": table, "Item": key("SITE#3")}}
    message = denied(client.transact_write_items, TransactItems=[
        put, {"Delete": {"TableName": table, "Key": key("SITE#4")}}])
    assert "dynamodb:DeleteItem" in message
    message = denied(client.transact_write_items, TransactItems=[
        put, {"Update": {"TableName": table, "Key": key("SALT"), "UpdateExpression": "SET v = :v",
                         "ExpressionAttributeValues": {":v": {"S": "x"}}}}])
    assert "dynamodb:UpdateItem" in message and "SALT" in message
    client.transact_write_items(TransactItems=[put])


def test_log_reports_allowed_pairs_and_denials(server, sites):
    table, access_key, client = sites
    client.put_item(TableName=table, Item=key("SITE#5"))
    client.describe_table(TableName=table)
    denied(client.get_item, TableName=table, Key=key("SALT"))
    denied(client.get_item, TableName=table, Key=key("SALT"))
    log = server.control("GET", f"/_pulse/principals/{access_key}/log")
    assert log["function"] == "CollectFunction"
    assert log["allowed"] == [{"sid": "Describe", "action": "dynamodb:DescribeTable"},
                              {"sid": "SiteRegistry", "action": "dynamodb:PutItem"}]
    assert log["calls"] == [{"sid": "Describe", "action": "dynamodb:DescribeTable", "count": 1},
                            {"sid": "SiteRegistry", "action": "dynamodb:PutItem", "count": 1}]
    client.put_item(TableName=table, Item=key("SITE#6"))
    log = server.control("GET", f"/_pulse/principals/{access_key}/log")
    assert log["calls"][1] == {"sid": "SiteRegistry", "action": "dynamodb:PutItem", "count": 2}
    assert len(log["denied"]) == 1
    assert log["denied"][0]["action"] == "dynamodb:GetItem"
    assert log["denied"][0]["resource"] == ARN + table
    assert log["denied"][0]["leading_keys"] == ["SALT"]
    assert "CollectFunction" in log["denied"][0]["message"]


def test_unregistered_and_forgotten_keys_have_full_rights(server, sites):
    table, access_key, client = sites
    server.client("AKIDNEVERSEEN").put_item(TableName=table, Item=key("SALT"))
    denied(client.get_item, TableName=table, Key=key("SALT"))
    assert server.control("DELETE", f"/_pulse/principals/{access_key}")["deleted"] is True
    assert client.get_item(TableName=table, Key=key("SALT"))["Item"]


def test_conditions_not_understood_fail_closed(server):
    table = server.table()
    server.control("POST", "/_pulse/principals", {
        "access_key_id": "AKIDODD", "function": "OddFunction",
        "statements": [{"sid": "Odd", "actions": ["dynamodb:*"], "resources": ["*"],
                        "condition": {"ForAnyValue:StringEquals": {"dynamodb:LeadingKeys": ["SITE#1"]}}}]})
    message = denied(server.client("AKIDODD").get_item, TableName=table, Key=key("SITE#1"))
    assert "ForAnyValue:StringEquals is not supported" in message
    server.control("POST", "/_pulse/principals", {
        "access_key_id": "AKIDODD", "function": "OddFunction",
        "statements": [{"sid": "Odd", "actions": ["dynamodb:*"], "resources": ["*"],
                        "condition": {"StringEquals": {"dynamodb:Attributes": ["v"]}}}]})
    assert "dynamodb:Attributes is not supported" in denied(
        server.client("AKIDODD").get_item, TableName=table, Key=key("SITE#1"))


def test_streams_are_checked_on_the_stream_arn(server):
    table = server.table(stream=True)
    server.client().put_item(TableName=table, Item=key("SITE#1"))
    server.control("POST", "/_pulse/principals", {
        "access_key_id": "AKIDSTREAM", "function": "BroadcastFunction",
        "statements": [{"sid": "Feed", "actions": ["dynamodb:DescribeStream", "dynamodb:GetShardIterator",
                                                  "dynamodb:ListStreams"],
                        "resources": [ARN + table + "/stream/*"]}]})
    streams = server.client("AKIDSTREAM", "dynamodbstreams")
    arn = streams.list_streams(TableName=table)["Streams"][0]["StreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    message = denied(streams.get_records, ShardIterator=iterator)
    assert f"dynamodb:GetRecords on resource: {arn}" in message
    assert "dynamodb:ListStreams on resource: *" in denied(streams.list_streams)
