"""Item sizes as DynamoDB counts them (for the 400 KB item limit, the 1 MB page and capacity units), and
the number rules. Works on both request JSON ({"S": "x"}) and moto's DynamoType (.type, .value)."""

import base64
import binascii
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_ITEM_BYTES = 409_600
MAX_DIGITS = 38
OVERFLOW = "Number overflow. Attempting to store a number with magnitude larger than supported range"
UNDERFLOW = "Number underflow. Attempting to store a number with magnitude smaller than supported range"
TOO_PRECISE = "Attempting to store more than 38 significant digits in a Number"


def significant_digits(number: Decimal) -> int:
    # Leading and trailing zeros are not stored, so they do not count.
    return len("".join(map(str, number.as_tuple().digits)).strip("0"))


def number_problem(text: Any) -> str | None:
    """AWS's message for a number DynamoDB refuses, None for one it stores (or one moto itself refuses)."""
    try:
        number = Decimal(str(text))
    except InvalidOperation:
        return None  # not a number at all: moto answers that
    if not number.is_finite():
        return None
    if significant_digits(number) > MAX_DIGITS:
        return TOO_PRECISE
    if number.is_zero():
        return None
    # adjusted() is the exponent of the leading digit: 9.99e125 -> 125, 1e126 -> 126, 1e-130 -> -130.
    if number.adjusted() >= 126:
        return OVERFLOW
    if number.adjusted() < -130:
        return UNDERFLOW
    return None


def number_size(text: Any) -> int:
    plain = str(text)
    if "e" not in plain and "E" not in plain:
        # The common case, without a Decimal: Query pages size every number of every item they read.
        return (len(plain.lstrip("+-").replace(".", "").strip("0")) + 1) // 2 + 1
    try:
        digits = significant_digits(Decimal(str(text)))
    except InvalidOperation:
        digits = len(str(text))
    return (digits + 1) // 2 + 1


def binary_size(value: Any) -> int:
    if isinstance(value, bytes):
        return len(value)
    try:
        return len(base64.b64decode(value, validate=False))
    except (binascii.Error, ValueError, TypeError):
        return len(str(value))


def utf8(text: Any) -> int:
    return len(text.encode("utf-8")) if isinstance(text, str) else len(str(text).encode("utf-8"))


def value_size(kind: str, value: Any) -> int:
    """The size of one attribute value given its type tag and its value (JSON or DynamoType children)."""
    if kind == "S":
        return utf8(value)
    if kind == "N":
        return number_size(value)
    if kind == "B":
        return binary_size(value)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(utf8(v) for v in value)
    if kind == "NS":
        return sum(number_size(v) for v in value)
    if kind == "BS":
        return sum(binary_size(v) for v in value)
    if kind == "L":
        return 3 + sum(any_size(v) + 1 for v in value)
    if kind == "M":
        return 3 + sum(utf8(name) + any_size(v) + 1 for name, v in value.items())
    return utf8(value)


def any_size(value: Any) -> int:
    """The size of a JSON AttributeValue or a DynamoType."""
    if isinstance(value, dict):
        kind, inner = next(iter(value.items()))
        return value_size(kind, inner)
    return value_size(value.type, value.value)


def item_size(attributes: dict[str, Any]) -> int:
    """A whole item: each attribute's name in UTF-8 bytes plus its value."""
    return sum(utf8(name) + any_size(value) for name, value in attributes.items())


def numbers_in(value: Any) -> list[str]:
    """Every number (N and each NS element) in an AttributeValue, however deep, JSON or DynamoType."""
    if isinstance(value, dict):
        if len(value) != 1:
            return []
        kind, inner = next(iter(value.items()))
    elif hasattr(value, "type"):
        kind, inner = value.type, value.value
    else:
        return []
    if kind == "N":
        return [inner]
    if kind == "NS" and isinstance(inner, list):
        return list(inner)
    if kind == "L" and isinstance(inner, list):
        return [n for v in inner for n in numbers_in(v)]
    if kind == "M" and isinstance(inner, dict):
        return [n for v in inner.values() for n in numbers_in(v)]
    return []
