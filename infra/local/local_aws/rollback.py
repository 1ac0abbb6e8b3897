"""Snapshots of single items and of a table's stream position, so that a failed write can be undone by
restoring only what it touched (never by copying whole tables)."""

import copy
from dataclasses import dataclass

from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

# How many items have been snapshotted: the tests read it to show costs follow items touched, not tables.
items_copied = 0


@dataclass
class ItemSnapshot:
    table: Table
    hash_key: DynamoType
    range_key: DynamoType | None
    item: Item | None


def stream_position(table: Table) -> int:
    """The sequence number the table's next stream record will get (trimming does not change it)."""
    shard = table.stream_shard
    return 0 if shard is None else shard.starting_sequence_number + len(shard.items)


def drop_stream_records_since(table: Table, position: int) -> None:
    shard = table.stream_shard
    if shard is None:
        return
    added = stream_position(table) - position
    if added > 0:
        del shard.items[max(0, len(shard.items) - added):]


def snapshot(table: Table, hash_key: DynamoType, range_key: DynamoType | None) -> ItemSnapshot:
    global items_copied
    current = table.get_item(hash_key, range_key)
    if current is not None:
        items_copied += 1
    return ItemSnapshot(table, hash_key, range_key, copy.deepcopy(current))


def restore(saved: ItemSnapshot) -> None:
    """Puts the item back as it was, without a stream record."""
    items = saved.table.items
    if saved.range_key is None:
        if saved.item is None:
            items.pop(saved.hash_key, None)
        else:
            items[saved.hash_key] = saved.item
        return
    partition = items[saved.hash_key]
    if saved.item is None:
        partition.pop(saved.range_key, None)
        if not partition:
            items.pop(saved.hash_key, None)
    else:
        partition[saved.range_key] = saved.item
