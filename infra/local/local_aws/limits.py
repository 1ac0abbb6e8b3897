"""DynamoDB's limits, for every caller: numbers (38 digits, 1e-130 <= |n| < 1e126), 400 KB items counted
as AWS counts them, key lengths and empty keys, and the sizes of transactions and batches. Requests are
checked before moto sees them; an UpdateItem's result is checked after moto computes it, and undone."""

from decimal import Decimal, localcontext
from typing import Any, Callable

import moto.dynamodb.models.table as moto_table
import moto.dynamodb.responses as moto_responses
from moto.dynamodb.exceptions import (HashKeyTooLong, ItemSizeTooLarge, ItemSizeToUpdateTooLarge,
                                      MockValidationException, RangeKeyTooLong, TooManyTransactionsException)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.utilities import bytesize

from . import models, rollback
from .errors import validation
from .itemsize import MAX_ITEM_BYTES, any_size, item_size, number_problem, numbers_in, utf8
from .requests import Element, attribute_values, elements

PAGE_BYTES = 1_048_576
MAX_TRANSACTION_ITEMS = 100
MAX_TRANSACTION_BYTES = 4 * 1_048_576
MAX_BATCH_WRITES = 25
MAX_BATCH_GETS = 100
ITEM_TOO_LARGE = "Item size has exceeded the maximum allowed size"
EMPTY_KEY = ("One or more parameter values are not valid. The AttributeValue for a key attribute cannot "
             "contain an empty string value. Key: {}")


def check_numbers(values: list[Any]) -> None:
    for value in values:
        for number in numbers_in(value):
            problem = number_problem(number)
            if problem:
                raise validation(problem)


def check_key(region: str, element: Element) -> None:
    table = models.table(region, element.table or "")
    attributes = element.key_or_item
    if table is None or not attributes:
        return
    hash_name, range_name = models.key_names(table)
    for name, limit, message in ((hash_name, 2048, HashKeyTooLong.key_too_large_msg),
                                 (range_name, 1024, RangeKeyTooLong.key_too_large_msg)):
        value = attributes.get(name or "")
        if not isinstance(value, dict) or len(value) != 1:
            continue
        kind, inner = next(iter(value.items()))
        if kind in ("S", "B") and inner == "":
            raise validation(EMPTY_KEY.format(name))
        if kind in ("S", "B") and any_size(value) > limit:
            raise validation(message)


def check_request(region: str, op: str, body: dict[str, Any]) -> None:
    """Raises ValidationException for what DynamoDB refuses before it touches an item."""
    if op == "TransactWriteItems" and len(body.get("TransactItems") or []) > MAX_TRANSACTION_ITEMS:
        raise validation(TooManyTransactionsException.msg)
    if op == "BatchWriteItem":
        if sum(len(r) for r in (body.get("RequestItems") or {}).values()) > MAX_BATCH_WRITES:
            raise validation("Too many items requested for the BatchWriteItem call")
    if op == "BatchGetItem":
        if sum(len(s.get("Keys") or []) for s in (body.get("RequestItems") or {}).values()) > MAX_BATCH_GETS:
            raise validation("Too many items requested for the BatchGetItem call")
    found = elements(op, body)
    for element in found:
        check_numbers(attribute_values(element.params))
        check_key(region, element)
        if "Item" in element.params and item_size(element.params["Item"]) > MAX_ITEM_BYTES:
            raise validation(ITEM_TOO_LARGE)
    if op == "TransactWriteItems":
        seen = set()
        for element in found:
            key = keys_of(region, element)
            if key in seen:
                raise validation("Transaction request cannot include multiple operations on one item")
            seen.add(key)
        total = sum(sum(utf8(n) + any_size(v) for n, v in attributes.items())
                    for e in found for attributes in (e.params.get("Item") or e.params.get("Key") or {},
                                                      e.params.get("ExpressionAttributeValues") or {}))
        if total > MAX_TRANSACTION_BYTES:
            raise validation("Transaction request cannot be larger than 4 MB")


def keys_of(region: str, element: Element) -> tuple[str, str]:
    """(table, key) of the item an element names, for spotting two operations on one item."""
    table = models.table(region, element.table or "")
    attributes = element.key_or_item or {}
    names = [n for n in models.key_names(table) if n] if table else sorted(attributes)
    return element.table or "", repr([attributes.get(n) for n in names])


def item_problem(item: Item) -> str | None:
    for value in item.attrs.values():
        for number in numbers_in(value):
            problem = number_problem(number)
            if problem:
                return problem
    if item.size() > MAX_ITEM_BYTES:
        return ItemSizeToUpdateTooLarge.item_size_to_update_too_large_msg
    return None


def check_update_results() -> None:
    """An UpdateItem whose result breaks a limit (an ADD past 1e126, a SET past 400 KB) is undone whole,
    stream record included; so is one that moto failed half-way through."""
    update_item = DynamoDBBackend.update_item

    def checked_update(self: DynamoDBBackend, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any):
        table = self.get_table(table_name)
        hash_key, range_key = self.get_keys_value(table, key)
        saved = rollback.snapshot(table, hash_key, range_key)
        position = rollback.stream_position(table)
        try:
            item = update_item(self, table_name, key, *args, **kwargs)
        except Exception:
            rollback.restore(saved)
            rollback.drop_stream_records_since(table, position)
            raise
        problem = item_problem(item)
        if problem:
            rollback.restore(saved)
            rollback.drop_stream_records_since(table, position)
            raise MockValidationException(problem)
        return item

    DynamoDBBackend.update_item = checked_update


def count_sizes_as_aws() -> None:
    """moto counts a number as its text and stops items at 405,000 bytes and pages at 1,000,000."""
    DynamoType.size = lambda self: any_size(self)
    Item.size = lambda self: item_size(self.attrs)
    moto_table.RESULT_SIZE_LIMIT = PAGE_BYTES
    moto_responses.TRANSACTION_MAX_ITEMS = MAX_TRANSACTION_ITEMS  # TransactGetItems: 100 since 2022

    def limited_setitem(self: LimitedSizeDict, key: str, value: Any) -> None:
        current = sum(bytesize(k) + (v.size() if isinstance(v, DynamoType) else bytesize(str(v)))
                      for k, v in self.items() if k != key)
        new = bytesize(key) + (value.size() if isinstance(value, DynamoType) else bytesize(str(value)))
        if current + new > MAX_ITEM_BYTES:
            raise ItemSizeTooLarge
        dict.__setitem__(self, key, value)

    LimitedSizeDict.__setitem__ = limited_setitem


def exact_arithmetic() -> None:
    """moto adds numbers as int() or in Decimal's 28-digit context: "9e125" + 1 fails with a 500 and 38
    digits are rounded. Exact sums let the update check see the result DynamoDB would refuse."""
    add, subtract = DynamoType.__add__, DynamoType.__sub__

    def exactly(operation: Callable[[Decimal, Decimal], Decimal], fallback: Callable) -> Callable:
        def apply(self: DynamoType, other: DynamoType) -> DynamoType:
            if not (self.is_number() and other.is_number()):
                return fallback(self, other)
            with localcontext() as context:
                context.prec = 300  # wide enough for 1e126 + 1e-130 without rounding
                return DynamoType({"N": str(operation(Decimal(self.value), Decimal(other.value)))})

        return apply

    DynamoType.__add__ = exactly(lambda a, b: a + b, add)
    DynamoType.__sub__ = exactly(lambda a, b: a - b, subtract)


def install() -> None:
    count_sizes_as_aws()
    exact_arithmetic()
    check_update_results()
