"""A DynamoDB request broken into the elements that the checks look at: one per item a write or a get
names, one per Query/Scan/table call, each with its table, key or item and attribute values."""

import re
from dataclasses import dataclass, field
from typing import Any

# Containers of name -> AttributeValue, and of name -> {Value, AttributeValueList} (legacy parameters).
VALUE_MAPS = ("Item", "Key", "ExpressionAttributeValues", "ExclusiveStartKey")
LEGACY_MAPS = ("Expected", "AttributeUpdates", "KeyConditions", "QueryFilter", "ScanFilter")
TRANSACT_WRITE_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                          "ConditionCheck": "ConditionCheckItem"}


@dataclass
class Element:
    action: str  # the IAM action (without "dynamodb:") this element is authorized as
    table: str | None
    params: dict[str, Any] = field(default_factory=dict)
    index: str | None = None
    transactional: bool = False

    @property
    def key_or_item(self) -> dict[str, Any] | None:
        return self.params.get("Key") or self.params.get("Item")


def elements(op: str, body: dict[str, Any]) -> list[Element]:
    if op == "TransactWriteItems":
        found = []
        for entry in body.get("TransactItems") or []:
            for kind, params in entry.items():
                action = TRANSACT_WRITE_ACTIONS.get(kind, kind)
                found.append(Element(action, params.get("TableName"), params, transactional=True))
        return found
    if op == "TransactGetItems":
        return [Element("GetItem", e["Get"].get("TableName"), e["Get"], transactional=True)
                for e in body.get("TransactItems") or [] if "Get" in e]
    if op == "BatchWriteItem":
        return [Element("BatchWriteItem", table, next(iter(request.values()), {}))
                for table, requests in (body.get("RequestItems") or {}).items() for request in requests]
    if op == "BatchGetItem":
        return [Element("BatchGetItem", table, {"Key": key, "ConsistentRead": spec.get("ConsistentRead")})
                for table, spec in (body.get("RequestItems") or {}).items() for key in spec.get("Keys") or []]
    return [Element(op, body.get("TableName"), body, index=body.get("IndexName"))]


def attribute_values(params: dict[str, Any]) -> list[Any]:
    """Every AttributeValue an element carries, at the top of its containers."""
    found: list[Any] = []
    for container in VALUE_MAPS:
        found.extend((params.get(container) or {}).values())
    for container in LEGACY_MAPS:
        for condition in (params.get(container) or {}).values():
            if isinstance(condition, dict):
                if "Value" in condition:
                    found.append(condition["Value"])
                found.extend(condition.get("AttributeValueList") or [])
    return [value for value in found if isinstance(value, dict)]


def scalar(value: Any) -> str | None:
    """The text of a key value ({"S": "x"} -> "x"), as IAM's dynamodb:LeadingKeys sees it."""
    if isinstance(value, dict) and len(value) == 1:
        inner = next(iter(value.values()))
        if isinstance(inner, str):
            return inner
    return None


def query_partition_value(params: dict[str, Any], hash_name: str) -> Any:
    """The AttributeValue a Query binds to the partition key, from KeyConditionExpression or KeyConditions."""
    names = params.get("ExpressionAttributeNames") or {}
    values = params.get("ExpressionAttributeValues") or {}
    expression = params.get("KeyConditionExpression")
    if expression:
        for clause in re.split(r"\s+AND\s+", expression, flags=re.IGNORECASE):
            match = re.fullmatch(r"\s*\(*\s*([#:]?[\w.\-]+)\s*=\s*([#:]?[\w.\-]+)\s*\)*\s*", clause)
            if not match:
                continue
            left, right = match.groups()
            if left.startswith(":"):
                left, right = right, left
            if names.get(left, left) == hash_name and right in values:
                return values[right]
    condition = (params.get("KeyConditions") or {}).get(hash_name) or {}
    if condition.get("ComparisonOperator") == "EQ" and condition.get("AttributeValueList"):
        return condition["AttributeValueList"][0]
    return None
