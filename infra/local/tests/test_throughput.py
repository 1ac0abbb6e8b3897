"""Per-partition throughput, on a server started with LOCAL_DYNAMODB_PARTITION_WCU/RCU."""

import time

import pytest
from botocore.exceptions import ClientError


@pytest.fixture(scope="module")
def limited(start_server):
    return start_server({"LOCAL_DYNAMODB_PARTITION_WCU": "10", "LOCAL_DYNAMODB_PARTITION_RCU": "4"})


def outcomes(calls) -> list[str]:
    codes = []
    for call in calls:
        try:
            call()
            codes.append("ok")
        except ClientError as error:
            codes.append(error.response["Error"]["Code"])
    return codes


def test_a_hot_partition_is_throttled_and_a_cold_one_is_not(limited):
    client = limited.client()
    table = limited.table(range_key=None)
    started = time.monotonic()
    hot = outcomes([lambda i=i: client.put_item(TableName=table, Item={"pk": {"S": "HOT"}, "i": {"N": str(i)}})
                    for i in range(50)])
    elapsed = time.monotonic() - started
    assert "ThrottlingException" in hot, hot
    # Ten units a second, one a write: about ten in the first second, one more per tenth of a second after.
    assert hot.count("ok") <= 10 + 10 * elapsed + 1
    client.put_item(TableName=table, Item={"pk": {"S": "COLD"}})
    time.sleep(1.1)
    client.put_item(TableName=table, Item={"pk": {"S": "HOT"}})


def test_large_items_cost_a_unit_per_kilobyte(limited):
    client = limited.client()
    table = limited.table(range_key=None)
    # 6,008 bytes: 6 units, so a second write within the second finds only 4 of its 10.
    item = {"pk": {"S": "BIG"}, "d": {"S": "x" * 6_000}}
    assert outcomes([lambda: client.put_item(TableName=table, Item=item)] * 2) == ["ok", "ThrottlingException"]


def test_reads_are_charged_after_and_refused_while_in_debt(limited):
    client = limited.client()
    table = limited.table()
    for i in range(2):
        client.put_item(TableName=table, Item={"pk": {"S": "R"}, "sk": {"S": str(i)}, "d": {"S": "x" * 9_000}})
        time.sleep(1.0)  # 9 units of the partition's 10 a second
    # 18 KB read strongly consistent: 5 units from a bucket of 4, so the next read of R waits; S is untouched.
    query = dict(TableName=table, KeyConditionExpression="pk = :p", ConsistentRead=True)
    client.query(**query, ExpressionAttributeValues={":p": {"S": "R"}})
    codes = outcomes([lambda: client.get_item(TableName=table, Key={"pk": {"S": "R"}, "sk": {"S": "0"}}),
                      lambda: client.query(**query, ExpressionAttributeValues={":p": {"S": "S"}})])
    assert codes == ["ThrottlingException", "ok"]
