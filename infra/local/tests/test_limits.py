"""DynamoDB's limits, for every caller: numbers, item size, keys, transaction and batch sizes, pages, and
the shapes of condition and transaction failures."""

import pytest
from botocore.exceptions import ClientError


def refused(call, code: str = "ValidationException", **kwargs) -> dict:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    assert raised.value.response["Error"]["Code"] == code, raised.value.response
    return raised.value.response


@pytest.fixture(scope="module")
def table(server):
    return server.table(range_key=None)


@pytest.mark.parametrize("number, message", [
    ("1e126", "Number overflow. Attempting to store a number with magnitude larger than supported range"),
    ("-1E+126", "Number overflow. Attempting to store a number with magnitude larger than supported range"),
    ("1e-131", "Number underflow. Attempting to store a number with magnitude smaller than supported range"),
    ("1" * 39, "Attempting to store more than 38 significant digits in a Number"),
    ("1.00000000000000000000000000000000000001", "Attempting to store more than 38 significant digits in a Number"),
])
def test_numbers_out_of_range_are_refused_everywhere(server, table, number, message):
    client = server.client()
    places = [
        dict(Item={"pk": {"S": "n"}, "v": {"N": number}}),
        dict(Item={"pk": {"S": "n"}, "m": {"M": {"deep": {"L": [{"NS": ["1", number]}]}}}}),
        dict(Item={"pk": {"S": "n"}}, ConditionExpression="attribute_not_exists(v) OR v < :n",
             ExpressionAttributeValues={":n": {"N": number}}),
    ]
    for place in places:
        assert refused(client.put_item, TableName=table, **place)["Error"]["Message"] == message
    refused(client.update_item, TableName=table, Key={"pk": {"S": "n"}}, UpdateExpression="SET v = :n",
            ExpressionAttributeValues={":n": {"N": number}})
    refused(client.transact_write_items, TransactItems=[
        {"Put": {"TableName": table, "Item": {"pk": {"S": "n"}, "v": {"N": number}}}}])
    refused(client.batch_write_item, RequestItems={table: [{"PutRequest": {"Item": {"pk": {"S": "n"}, "v": {"N": number}}}}]})


@pytest.mark.parametrize("number", ["9.99e125", "-9.9999999999999999999999999999999999999E+125", "1e-130",
                                    "1" * 38, "100000000000000000000000000000000000000000000", "0.000"])
def test_numbers_in_range_are_stored(server, table, number):
    client = server.client()
    client.put_item(TableName=table, Item={"pk": {"S": "ok"}, "v": {"N": number}})
    assert client.get_item(TableName=table, Key={"pk": {"S": "ok"}})["Item"]["v"]["N"]


def test_an_add_past_the_range_is_refused_and_undone(server, table):
    client = server.client()
    client.put_item(TableName=table, Item={"pk": {"S": "add"}, "v": {"N": "9e125"}})
    response = refused(client.update_item, TableName=table, Key={"pk": {"S": "add"}}, UpdateExpression="ADD v :n",
                       ExpressionAttributeValues={":n": {"N": "9e125"}})
    assert response["Error"]["Message"].startswith("Number overflow")
    assert client.get_item(TableName=table, Key={"pk": {"S": "add"}})["Item"]["v"] == {"N": "9e125"}
    client.update_item(TableName=table, Key={"pk": {"S": "add"}}, UpdateExpression="ADD v :n",
                       ExpressionAttributeValues={":n": {"N": "-1e125"}})
    assert client.get_item(TableName=table, Key={"pk": {"S": "add"}})["Item"]["v"] == {"N": "8E+125"}


def test_item_size_is_counted_as_aws_counts_it(server, table):
    client = server.client()
    # "pk" (2) + "k" (1) + "d" (1) + the string: 409,600 bytes exactly.
    client.put_item(TableName=table, Item={"pk": {"S": "k"}, "d": {"S": "x" * 409_596}})
    response = refused(client.put_item, TableName=table, Item={"pk": {"S": "k"}, "d": {"S": "x" * 409_597}})
    assert response["Error"]["Message"] == "Item size has exceeded the maximum allowed size"
    # A number of 38 digits is 20 bytes, not 38.
    client.put_item(TableName=table, Item={"pk": {"S": "k"}, "n": {"N": "1" * 38}, "d": {"S": "x" * 409_575}})
    refused(client.put_item, TableName=table, Item={"pk": {"S": "k"}, "n": {"N": "1" * 38}, "d": {"S": "x" * 409_576}})


def test_an_update_past_400_kb_is_refused_and_undone(server, table):
    client = server.client()
    client.put_item(TableName=table, Item={"pk": {"S": "big"}, "m": {"M": {"a": {"S": "x" * 300_000}}}})
    response = refused(client.update_item, TableName=table, Key={"pk": {"S": "big"}}, UpdateExpression="SET m.b = :b",
                       ExpressionAttributeValues={":b": {"S": "y" * 200_000}})
    assert response["Error"]["Message"] == "Item size to update has exceeded the maximum allowed size"
    item = client.get_item(TableName=table, Key={"pk": {"S": "big"}})["Item"]
    assert list(item["m"]["M"]) == ["a"]


def test_key_rules(server, table):
    client = server.client()
    message = refused(client.put_item, TableName=table, Item={"pk": {"S": ""}})["Error"]["Message"]
    assert message.startswith("One or more parameter values are not valid. The AttributeValue for a key attribute "
                              "cannot contain an empty string value.")
    refused(client.get_item, TableName=table, Key={"pk": {"S": ""}})
    client.put_item(TableName=table, Item={"pk": {"S": "k" * 2048}})
    refused(client.put_item, TableName=table, Item={"pk": {"S": "k" * 2049}})
    ranged = server.table()
    client.put_item(TableName=ranged, Item={"pk": {"S": "k"}, "sk": {"S": "s" * 1024}})
    refused(client.put_item, TableName=ranged, Item={"pk": {"S": "k"}, "sk": {"S": "s" * 1025}})


def test_transaction_and_batch_sizes(server, table):
    client = server.client()
    puts = [{"Put": {"TableName": table, "Item": {"pk": {"S": f"t{i}"}}}} for i in range(101)]
    refused(client.transact_write_items, TransactItems=puts)
    client.transact_write_items(TransactItems=puts[:100])
    message = refused(client.transact_write_items, TransactItems=puts[:2] + puts[:1])["Error"]["Message"]
    assert message == "Transaction request cannot include multiple operations on one item"
    big = [{"Put": {"TableName": table, "Item": {"pk": {"S": f"b{i}"}, "d": {"S": "x" * 400_000}}}} for i in range(11)]
    assert "4 MB" in refused(client.transact_write_items, TransactItems=big)["Error"]["Message"]
    writes = [{"PutRequest": {"Item": {"pk": {"S": f"w{i}"}}}} for i in range(26)]
    refused(client.batch_write_item, RequestItems={table: writes})
    client.batch_write_item(RequestItems={table: writes[:25]})
    keys = [{"pk": {"S": f"g{i}"}} for i in range(101)]
    refused(client.batch_get_item, RequestItems={table: {"Keys": keys}})
    gets = [{"Get": {"TableName": table, "Key": {"pk": {"S": f"t{i}"}}}} for i in range(100)]
    assert len(client.transact_get_items(TransactItems=gets)["Responses"]) == 100


def test_query_pages_stop_at_1_mb_read(server):
    client = server.client()
    ranged = server.table()
    for i in range(12):
        client.put_item(TableName=ranged, Item={"pk": {"S": "p"}, "sk": {"S": f"{i:02}"}, "d": {"S": "x" * 100_000}})
    # Ten 100 KB items fit in 1 MB; the filter drops them all, but they were read.
    page = client.query(TableName=ranged, KeyConditionExpression="pk = :p", FilterExpression="attribute_exists(nope)",
                        ExpressionAttributeValues={":p": {"S": "p"}})
    assert page["Count"] == 0 and page["ScannedCount"] == 10
    assert page["LastEvaluatedKey"]["sk"] == {"S": "09"}


def test_failed_conditions_and_transactions_answer_as_aws(server, table):
    client = server.client()
    client.put_item(TableName=table, Item={"pk": {"S": "c"}, "v": {"S": "old"}})
    response = refused(client.put_item, "ConditionalCheckFailedException", TableName=table,
                       Item={"pk": {"S": "c"}}, ConditionExpression="attribute_not_exists(pk)",
                       ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert response["Item"] == {"pk": {"S": "c"}, "v": {"S": "old"}}
    response = refused(client.transact_write_items, "TransactionCanceledException", TransactItems=[
        {"Put": {"TableName": table, "Item": {"pk": {"S": "c2"}}}},
        {"ConditionCheck": {"TableName": table, "Key": {"pk": {"S": "c"}}, "ConditionExpression": "v = :x",
                            "ExpressionAttributeValues": {":x": {"S": "new"}},
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}])
    reasons = response["CancellationReasons"]
    assert reasons[0] == {"Code": "None"}
    assert reasons[1]["Code"] == "ConditionalCheckFailed" and reasons[1]["Item"]["v"] == {"S": "old"}
    assert "Item" not in client.get_item(TableName=table, Key={"pk": {"S": "c2"}})
