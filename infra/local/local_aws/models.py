"""Look-ups in moto's in-memory models that the checks need: tables, their key schemas, stream ARNs."""

from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodbstreams.models import dynamodbstreams_backends

ACCOUNT_ID = DEFAULT_ACCOUNT_ID


def table(region: str, name: str) -> Table | None:
    backend = dynamodb_backends[ACCOUNT_ID][region]
    return backend.tables.get(name)


def table_arn(region: str, name: str) -> str:
    return f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{name}"


def hash_key_name(found: Table, index_name: str | None = None) -> str | None:
    """The partition key attribute of the table, or of one of its indexes."""
    if index_name is None:
        return found.hash_key_attr
    for index in list(found.global_indexes or []) + list(found.indexes or []):
        if index.name == index_name:
            return next((k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"), None)
    return None


def key_names(found: Table) -> tuple[str, str | None]:
    return found.hash_key_attr, found.range_key_attr


def stream_arn_of_iterator(region: str, iterator: str) -> str:
    """The stream a shard iterator reads; moto's iterator ids are `<stream ARN>|1|<random>`."""
    known: Any = dynamodbstreams_backends[ACCOUNT_ID][region].shard_iterators.get(iterator)
    if known is not None:
        shard_table = known.stream_shard.table
        return f"{shard_table.table_arn}/stream/{shard_table.latest_stream_label}"
    return iterator.split("|", 1)[0]


def dynamodb_key(found: Table, attributes: dict[str, Any]) -> tuple[DynamoType, DynamoType | None]:
    """moto's (hash, range) key of the item named by a Key or an Item."""
    hash_name, range_name = key_names(found)
    range_key = DynamoType(attributes[range_name]) if range_name else None
    return DynamoType(attributes[hash_name]), range_key
