"""A transaction's cost follows the items it touches, never the table's size, and a failed one leaves
neither items nor stream records behind."""

import uuid

import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item

import local_aws.limits
import local_aws.transactions


@pytest.fixture
def copies(monkeypatch):
    """Counts items deep-copied (moto's rollback copied every item of every table a transaction names)."""
    local_aws.limits.install()
    local_aws.transactions.install()
    counted = {"items": 0}
    copy_item = Item.__deepcopy__

    def counting(self, memo):
        counted["items"] += 1
        return copy_item(self, memo)

    monkeypatch.setattr(Item, "__deepcopy__", counting)
    return counted


def items_copied_by_a_transaction(size: int, copies: dict) -> int:
    backend = dynamodb_backends["123456789012"]["us-east-1"]
    name = f"t{uuid.uuid4().hex[:8]}"
    table = backend.create_table(
        name, schema=[{"AttributeName": "pk", "KeyType": "HASH"}], throughput=None,
        attr=[{"AttributeName": "pk", "AttributeType": "S"}], global_indexes=None, indexes=None,
        streams={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}, billing_mode="PAY_PER_REQUEST",
        sse_specification=None, tags=[], deletion_protection_enabled=False, warm_throughput=None)
    for i in range(size):
        table.put_item({"pk": {"S": f"item{i}"}, "v": {"N": "1"}})
    before = copies["items"]
    backend.transact_write_items([
        {"Update": {"TableName": name, "Key": {"pk": {"S": "item1"}}, "UpdateExpression": "ADD v :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"Put": {"TableName": name, "Item": {"pk": {"S": "new"}}}},
    ])
    assert table.get_item(DynamoType({"S": "item1"})).attrs["v"].value == "2"
    return copies["items"] - before


def test_a_transaction_copies_the_items_it_touches_not_the_table(copies):
    small = items_copied_by_a_transaction(100, copies)
    large = items_copied_by_a_transaction(5_000, copies)
    assert small == large
    assert large <= 4  # the updated item: its snapshot, moto's own old image, the update check's snapshot


def test_failed_transactions_leave_no_items_and_no_stream_records(server):
    client = server.client()
    table = server.table(range_key=None, stream=True)
    client.put_item(TableName=table, Item={"pk": {"S": "a"}, "v": {"S": "old"}})
    streams = server.client(service="dynamodbstreams")
    arn = streams.list_streams(TableName=table)["Streams"][0]["StreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]

    def records() -> list[str]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        return [r["eventName"] for r in streams.get_records(ShardIterator=iterator)["Records"]]

    with pytest.raises(ClientError) as raised:
        client.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": "b"}}}},
            {"Update": {"TableName": table, "Key": {"pk": {"S": "a"}}, "UpdateExpression": "SET v = :n",
                        "ExpressionAttributeValues": {":n": {"S": "new"}}}},
            {"Delete": {"TableName": table, "Key": {"pk": {"S": "a2"}}, "ConditionExpression": "attribute_exists(pk)"}},
        ])
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert "Item" not in client.get_item(TableName=table, Key={"pk": {"S": "b"}})
    assert client.get_item(TableName=table, Key={"pk": {"S": "a"}})["Item"]["v"] == {"S": "old"}
    assert records() == ["INSERT"]
    client.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": {"pk": {"S": "b"}}}},
        {"Update": {"TableName": table, "Key": {"pk": {"S": "a"}}, "UpdateExpression": "SET v = :n",
                    "ExpressionAttributeValues": {":n": {"S": "new"}}}},
    ])
    assert records() == ["INSERT", "INSERT", "MODIFY"]
