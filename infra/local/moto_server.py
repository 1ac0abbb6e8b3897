"""moto's DynamoDB server for the local stack, with the differences from DynamoDB that grow without
bound narrowed, so that an hour of `make dev` answers as fast as its first minute. Same command line
as `moto_server` (`-H HOST -p PORT`).

- A Query reads its key's partition and key range, and a Query of an index partitioned like the
  table (the feed index) its partition. moto sorts every item of the table on each Query, so a
  dashboard's feed got slower with every event ever stored.
- A stream keeps its records for MOTO_STREAM_RETENTION_SECONDS (default 300; DynamoDB keeps 24 h),
  not forever. A reader behind the oldest record kept reads from there, as from TRIM_HORIZON.
- Only the last 1,000 shard iterators issued are kept (moto keeps every one: four a second per poller).
- Items whose TTL attribute is in the past are deleted every MOTO_TTL_SWEEP_SECONDS (default 60), with
  a REMOVE record on the stream, as DynamoDB's TTL does (it takes up to a few days; moto never does).
- Model instances are not tracked: moto keeps every one it ever made (for its dashboard and for
  resets between in-process tests), so every item version ever written stayed in memory, ~5 KB a
  rollup rewrite.
- One request at a time: moto's models are not thread-safe, and a Query walking a partition while a
  PutItem adds to it would fail.
- What AWS refuses is refused (local_aws/): IAM per registered access key, DynamoDB's limits, optional
  per-partition throughput; and a transaction copies only its own items, not whole tables.

The patches are for the pinned moto (infra/local/requirements.txt); with any other version the server
runs unpatched and says so.
"""

import contextvars
import datetime
import os
import sys
import threading
import time

import moto
from moto.core.common_models import BaseModel
from moto.core.utils import utcnow
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import StreamShard, Table
from moto.dynamodbstreams.models import ShardIterator
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.server import main

import local_aws

PATCHED_VERSION = "5.2.5"
STREAM_RETENTION = datetime.timedelta(seconds=float(os.environ.get("MOTO_STREAM_RETENTION_SECONDS", "300")))
TTL_SWEEP_SECONDS = float(os.environ.get("MOTO_TTL_SWEEP_SECONDS", "60"))
# Minutes of polling: no reader keeps an iterator that long (DynamoDB expires them after 15 minutes).
KEPT_ITERATORS = 1000

# Every request and the TTL sweep hold this lock.
model_lock = threading.RLock()

# The partition (hash key, range comparison, range values) of the Query being answered, if any.
query_partition: contextvars.ContextVar = contextvars.ContextVar("query_partition", default=None)


def serialize_requests() -> None:
    dispatch = DomainDispatcherApplication.__call__

    def locked(self, environ, start_response):
        with model_lock:
            # Reading the body inside the lock too: the response is built from the models.
            return list(dispatch(self, environ, start_response))

    DomainDispatcherApplication.__call__ = locked


def key_in_range(key: DynamoType, comparison: str, bounds: list) -> bool:
    """A cheap pre-filter on string keys; moto applies the exact comparison afterwards."""
    value = key.value
    if comparison == "BETWEEN":
        return bounds[0].value <= value <= bounds[1].value
    if comparison == "BEGINS_WITH":
        return value.startswith(bounds[0].value)
    bound = bounds[0].value
    return {
        "EQ": value == bound, "=": value == bound,
        "LT": value < bound, "<": value < bound,
        "LE": value <= bound, "<=": value <= bound,
        "GT": value > bound, ">": value > bound,
        "GE": value >= bound, ">=": value >= bound,
    }.get(comparison, True)


def index_range_if_partitioned_like_the_table(table: Table, index_name: str) -> str | None:
    """The index's sort key attribute when its partition key is the table's own, so that a Query of the
    index reads one of the table's partitions (the events table's feed index is keyed by `pk` too)."""
    for index in table.all_indexes():
        if index.name != index_name:
            continue
        keys = {key["KeyType"]: key["AttributeName"] for key in index.schema}
        if keys.get("HASH") == table.hash_key_attr and "RANGE" in keys:
            return keys["RANGE"]
    return None


def narrow_queries_to_their_partition() -> None:
    query = Table.query
    all_items = Table.all_items

    def partition_query(self, hash_key, range_comparison, range_objs, *args, **kwargs):
        # (limit, exclusive_start_key, scan_index_forward, projection_expressions, index_name, ...)
        index_name = kwargs.get("index_name") or (args[4] if len(args) > 4 else None)
        if hash_key is None:
            return query(self, hash_key, range_comparison, range_objs, *args, **kwargs)
        if index_name is None:
            narrowed = (hash_key, range_comparison, range_objs, None)
        elif (index_range := index_range_if_partitioned_like_the_table(self, index_name)) is not None:
            # The index's partition is the table's: its items are the partition's items that carry the
            # index's sort key (a sparse index: few of them), in the Query's range of that key.
            narrowed = (hash_key, range_comparison, range_objs, index_range)
        else:
            return query(self, hash_key, range_comparison, range_objs, *args, **kwargs)
        token = query_partition.set(narrowed)
        try:
            return query(self, hash_key, range_comparison, range_objs, *args, **kwargs)
        finally:
            query_partition.reset(token)

    def partition_items(self):
        narrowed = query_partition.get()
        if narrowed is None or not self.range_key_attr:
            return all_items(self)
        hash_key, comparison, bounds, index_range = narrowed
        items = list(self.items.get(hash_key, {}).values())
        if index_range is not None:
            items = [item for item in items if index_range in item.attrs]
        key_of = (lambda item: item.attrs[index_range]) if index_range is not None else (lambda item: item.range_key)
        if comparison and bounds and all(bound.type == "S" for bound in bounds):
            items = [item for item in items if key_of(item).type == "S" and key_in_range(key_of(item), comparison, bounds)]
        if self.range_key_type == "S":
            # query() sorts again with moto's own comparisons, which are slow; on a list already in order
            # that costs one comparison per item.
            items.sort(key=lambda item: item.range_key.value)
        return items

    Table.query = partition_query
    Table.all_items = partition_items


def bound_stream_retention() -> None:
    add = StreamShard.add
    get = StreamShard.get

    def add_and_trim(self, old, new):
        add(self, old, new)
        oldest_kept = utcnow() - STREAM_RETENTION
        expired = 0
        for record in self.items:
            created = record.record["dynamodb"]["ApproximateCreationDateTime"]
            if created >= oldest_kept:
                break
            expired += 1
        if expired:
            # Sequence numbers stay what they were: the first kept record's is the new start.
            del self.items[:expired]
            self.starting_sequence_number += expired

    def get_from_kept(self, start, quantity):
        return get(self, max(start, self.starting_sequence_number), quantity)

    StreamShard.add = add_and_trim
    StreamShard.get = get_from_kept


def forget_old_iterators() -> None:
    get = ShardIterator.get

    def get_and_forget_old(self, *args, **kwargs):
        page = get(self, *args, **kwargs)
        iterators = self.streams_backend.shard_iterators
        # The oldest first (dicts keep insertion order).
        for arn in list(iterators)[: max(0, len(iterators) - KEPT_ITERATORS)]:
            del iterators[arn]
        return page

    ShardIterator.get = get_and_forget_old


def stop_tracking_instances() -> None:
    def untracked(cls, *args, **kwargs):
        return object.__new__(cls)

    BaseModel.__new__ = untracked


def sweep_expired_items() -> None:
    now = time.time()
    for regions in dynamodb_backends.values():
        for backend in regions.values():
            for table in list(backend.tables.values()):
                if table.ttl.get("TimeToLiveStatus") != "ENABLED":
                    continue
                attribute = table.ttl["AttributeName"]
                expired = []
                # Not table.all_items(): it sorts the whole table, and the sweep holds the lock.
                partitions = table.items.values()
                items = [i for p in partitions for i in p.values()] if table.range_key_attr else list(partitions)
                for item in items:
                    expiry = item.attrs.get(attribute)
                    if expiry is not None and expiry.type == "N" and float(expiry.value) < now:
                        expired.append((item.hash_key, item.range_key))
                for hash_key, range_key in expired:
                    table.delete_item(hash_key, range_key)


def expire_ttl_items_in_background() -> None:
    def run():
        while True:
            time.sleep(TTL_SWEEP_SECONDS)
            try:
                with model_lock:
                    sweep_expired_items()
            except Exception as error:  # the sweep must never stop the server
                print(f"TTL sweep failed: {error!r}", file=sys.stderr)

    threading.Thread(target=run, name="ttl-sweep", daemon=True).start()


if __name__ == "__main__":
    if moto.__version__ == PATCHED_VERSION:
        local_aws.install()  # before serialize_requests(): its checks run inside the request lock
        serialize_requests()
        stop_tracking_instances()
        narrow_queries_to_their_partition()
        bound_stream_retention()
        forget_old_iterators()
        expire_ttl_items_in_background()
    else:
        print(f"moto {moto.__version__} is not {PATCHED_VERSION}: running it unpatched", file=sys.stderr)
    main()
