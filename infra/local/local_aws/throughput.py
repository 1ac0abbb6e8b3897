"""Per-partition throughput, off unless LOCAL_DYNAMODB_PARTITION_WCU / LOCAL_DYNAMODB_PARTITION_RCU set
units per second per partition key value (per table, or per index for an index Query).

Units are billed as DynamoDB bills them: a write ceil(size / 1 KB) (the larger of the old and new item,
at least 1), a read ceil(size / 4 KB) strongly consistent and half that eventually consistent (a Query
sums the items it read, before its filter, and rounds once per page); transactional ones cost double.
Each partition has a token bucket holding at most one second of units: AWS's burst capacity holds up
to five minutes' worth, but a simulation wants a sharp limit. A write's cost is known before it runs,
so one that would take the bucket below zero is refused; a read's is known only after, so it is charged
after and the partition refuses requests while its bucket is below zero. Scans name no partition and
are not limited. Batches are refused whole (DynamoDB would return the throttled part as Unprocessed).
"""

import math
import os
import time
from dataclasses import dataclass
from typing import Any

from moto.dynamodb.models.table import Table

from . import models
from .errors import Refusal
from .itemsize import item_size
from .requests import Element, elements, query_partition_value, scalar

THROTTLED = ("Throughput exceeds the current capacity for one or more partitions of your table. DynamoDB is "
             "automatically scaling your table or index so please try again shortly. If exceptions persist, "
             "check if you have a hot key.")
WRITES = ("PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem", "BatchWriteItem")
READS = ("GetItem", "BatchGetItem", "Query")


def rate(name: str) -> float:
    return float(os.environ.get(name) or 0)


WCU = rate("LOCAL_DYNAMODB_PARTITION_WCU")
RCU = rate("LOCAL_DYNAMODB_PARTITION_RCU")

# (kind "W"/"R", table or table/index, partition value) -> (tokens, time of the last refill)
buckets: dict[tuple[str, str, str], tuple[float, float]] = {}
# Bytes the Queries of the request being answered read (requests are answered one at a time).
query_bytes_read = 0


@dataclass
class Charge:
    bucket: tuple[str, str, str]
    element: Element
    table: Table
    key: tuple[Any, Any]  # moto's (hash, range) DynamoTypes, for the item's size after a write
    old_size: int
    cost: float  # the estimate before, the bill after


def level(bucket: tuple[str, str, str]) -> float:
    per_second = WCU if bucket[0] == "W" else RCU
    tokens, stamp = buckets.get(bucket, (per_second, time.monotonic()))
    now = time.monotonic()
    tokens = min(per_second, tokens + (now - stamp) * per_second)
    buckets[bucket] = (tokens, now)
    return tokens


def write_units(size: int, transactional: bool) -> float:
    return max(1, math.ceil(size / 1024)) * (2 if transactional else 1)


def read_units(size: int, element: Element) -> float:
    units = max(1, math.ceil(size / 4096))
    if element.transactional:
        return 2.0 * units
    return float(units) if element.params.get("ConsistentRead") else units / 2


def plan(region: str, op: str, body: dict[str, Any]) -> list[Charge]:
    charges = []
    for element in elements(op, body):
        kind = "W" if element.action in WRITES else "R" if element.action in READS else None
        table = models.table(region, element.table or "")
        if kind is None or table is None or (WCU if kind == "W" else RCU) <= 0:
            continue
        if element.action == "Query":
            hash_name = models.hash_key_name(table, element.index) or ""
            partition = scalar(query_partition_value(element.params, hash_name))
            name = f"{table.name}/index/{element.index}" if element.index else table.name
            if partition is not None:
                charges.append(Charge((kind, name, partition), element, table, (None, None), 0,
                                      read_units(0, element)))
            continue
        attributes = element.key_or_item or {}
        partition = scalar(attributes.get(table.hash_key_attr))
        try:
            key = models.dynamodb_key(table, attributes)
        except Exception:  # a malformed key: moto answers it
            continue
        current = table.get_item(*key)
        old_size = current.size() if current is not None else 0
        if kind == "W":
            new_size = item_size(attributes) if element.action in ("PutItem", "BatchWriteItem") and \
                "Item" in element.params else 0
            cost = write_units(max(old_size, new_size), element.transactional)
        else:
            cost = read_units(old_size, element)
        if partition is not None:
            charges.append(Charge((kind, table.name, partition), element, table, key, old_size, cost))
    return charges


def admit(charges: list[Charge]) -> None:
    """Refuses the request if a partition it writes lacks the units, or one it reads is in debt."""
    needed: dict[tuple[str, str, str], float] = {}
    for charge in charges:
        needed[charge.bucket] = needed.get(charge.bucket, 0.0) + (charge.cost if charge.bucket[0] == "W" else 0.0)
    for bucket, units in needed.items():
        if level(bucket) < units:
            raise Refusal("ThrottlingException", THROTTLED)


def bill(charges: list[Charge]) -> None:
    """Charges what the request used, once moto has answered it."""
    for charge in charges:
        if charge.element.action == "Query":
            # A request holds one Query: the bytes its page read, rounded up once.
            charge.cost = read_units(query_bytes_read, charge.element)
        elif charge.element.action == "UpdateItem":
            updated = charge.table.get_item(*charge.key)
            new_size = updated.size() if updated is not None else 0
            charge.cost = write_units(max(charge.old_size, new_size), charge.element.transactional)
        tokens = level(charge.bucket)
        buckets[charge.bucket] = (tokens - charge.cost, buckets[charge.bucket][1])


def start_request() -> None:
    global query_bytes_read
    query_bytes_read = 0


def meter_queries() -> None:
    """Counts the bytes each Query reads before its filter and projection, as DynamoDB bills them."""
    query = Table.query

    def metered(self: Table, hash_key: Any, range_comparison: Any, range_objs: Any, limit: Any,
                exclusive_start_key: Any, scan_index_forward: Any, projection_expressions: Any,
                index_name: Any = None, consistent_read: bool = False, filter_expression: Any = None,
                **kwargs: Any):
        global query_bytes_read
        results, scanned, last_key = query(self, hash_key, range_comparison, range_objs, limit,
                                           exclusive_start_key, scan_index_forward, None, index_name,
                                           consistent_read, None, **kwargs)
        query_bytes_read += sum(item.size() for item in results)
        # What moto's Table.query does last, after its read.
        if filter_expression is not None:
            results = [item for item in results if filter_expression.expr(item)]
        if projection_expressions:
            results = [item.project(projection_expressions) for item in results]
        return results, scanned, last_key

    Table.query = metered


def install() -> None:
    if RCU > 0:
        meter_queries()
