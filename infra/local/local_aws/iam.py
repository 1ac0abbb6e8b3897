"""Identity-based policies per access key, evaluated as IAM does for DynamoDB and DynamoDB Streams: each
call becomes (action, resource ARN, dynamodb:LeadingKeys) checks, and a check no Allow statement covers
is denied. Keys never registered have every right (the admin CLI, test set-up)."""

import collections
import functools
import re
import sys
from dataclasses import dataclass, field
from typing import Any

from . import models
from .errors import Refusal
from .requests import Element, elements, query_partition_value, scalar

LEADING_KEYS = "dynamodb:leadingkeys"
SUPPORTED_OPERATORS = ("ForAllValues:StringEquals", "ForAllValues:StringLike", "StringEquals", "StringLike")
STREAM_ACTIONS = ("DescribeStream", "GetShardIterator", "GetRecords", "ListStreams")
ACCOUNT_WIDE = ("ListTables", "DescribeLimits", "DescribeEndpoints", "ListBackups", "ListGlobalTables")


@dataclass(frozen=True)
class Check:
    action: str  # "dynamodb:GetItem"
    resource: str
    leading_keys: tuple[str, ...] | None  # None: the call names a partition that could not be read


@dataclass
class Statement:
    sid: str
    actions: list[str]
    resources: list[str]
    condition: dict[str, Any] | None


@dataclass
class Principal:
    function: str
    statements: list[Statement]
    allowed: set[tuple[str, str]] = field(default_factory=set)
    denied: set[tuple[str, str, tuple[str, ...], str]] = field(default_factory=set)
    # Calls allowed, by (sid, action): what a test reads to tell one read per request from one in all.
    calls: collections.Counter = field(default_factory=collections.Counter)


principals: dict[str, Principal] = {}


def as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def register(body: dict[str, Any]) -> dict[str, Any]:
    """POST /_pulse/principals; replaces an earlier registration of the same key."""
    key = body.get("access_key_id")
    if not isinstance(key, str) or not key:
        raise ValueError("access_key_id (a string) is required")
    statements = []
    for number, raw in enumerate(body.get("statements") or []):
        condition = raw.get("condition")
        if condition is not None and not isinstance(condition, dict):
            raise ValueError(f"statement {number}: condition must be an object or null")
        statements.append(Statement(str(raw.get("sid") or f"Statement{number}"), as_list(raw.get("actions")),
                                    as_list(raw.get("resources")), condition))
    principals[key] = Principal(str(body.get("function") or key), statements)
    return {"access_key_id": key, "function": principals[key].function, "statements": len(statements)}


def forget(key: str) -> dict[str, Any]:
    return {"access_key_id": key, "deleted": principals.pop(key, None) is not None}


def log(key: str) -> dict[str, Any] | None:
    principal = principals.get(key)
    if principal is None:
        return None
    return {
        "function": principal.function,
        "allowed": [{"sid": sid, "action": action} for sid, action in sorted(principal.allowed)],
        "calls": [{"sid": sid, "action": action, "count": count}
                  for (sid, action), count in sorted(principal.calls.items())],
        "denied": [{"action": a, "resource": r, "leading_keys": list(k), "message": m}
                   for a, r, k, m in sorted(principal.denied)],
    }


@functools.lru_cache(maxsize=4096)
def wildcard(pattern: str, case_insensitive: bool) -> re.Pattern:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE | re.DOTALL if case_insensitive else re.DOTALL)


def matches(patterns: list[str], value: str, case_insensitive: bool = False) -> bool:
    return any(wildcard(p, case_insensitive).fullmatch(value) for p in patterns)


def condition_holds(condition: dict[str, Any] | None, keys: tuple[str, ...] | None) -> tuple[bool, str | None]:
    """Whether a statement's Condition block holds; (False, why) for what this check cannot evaluate."""
    for operator, tests in (condition or {}).items():
        if operator not in SUPPORTED_OPERATORS:
            return False, f"condition operator {operator} is not supported by the local IAM check"
        for context_key, allowed in (tests or {}).items():
            if context_key.lower() != LEADING_KEYS:
                return False, f"condition key {context_key} is not supported by the local IAM check"
            if keys is None:
                return False, "the partition key value of the request could not be determined"
            like = operator.endswith("StringLike")
            values = as_list(allowed)

            def one(value: str) -> bool:
                return matches(values, value) if like else value in values

            # ForAllValues holds on an empty set, as in IAM; a single-valued operator needs a value.
            if operator.startswith("ForAllValues:"):
                ok = all(one(k) for k in keys)
            else:
                ok = bool(keys) and all(one(k) for k in keys)
            if not ok:
                return False, None
    return True, None


def leading_keys(region: str, element: Element) -> tuple[str, ...] | None | bool:
    """The partition key values an element names; False when its table does not exist (moto answers)."""
    table = models.table(region, element.table or "")
    if table is None:
        return False
    if element.action == "Scan":
        return ()
    hash_name = models.hash_key_name(table, element.index)
    if element.action == "Query":
        value = scalar(query_partition_value(element.params, hash_name or ""))
    else:
        value = scalar((element.key_or_item or {}).get(hash_name or ""))
    return None if value is None else (value,)


def checks(region: str, op: str, body: dict[str, Any]) -> list[Check]:
    if op in STREAM_ACTIONS:
        if op == "GetRecords":
            resource = models.stream_arn_of_iterator(region, body.get("ShardIterator", ""))
        elif op == "ListStreams":
            name = body.get("TableName")
            resource = f"{models.table_arn(region, name)}/stream/*" if name else "*"
        else:
            resource = body.get("StreamArn", "*")
        return [Check(f"dynamodb:{op}", resource, ())]
    if op in ACCOUNT_WIDE:
        return [Check(f"dynamodb:{op}", "*", ())]
    if "ResourceArn" in body and "TableName" not in body:
        return [Check(f"dynamodb:{op}", body["ResourceArn"], ())]
    found: dict[tuple[str, str], list[tuple[str, ...] | None]] = {}
    for element in elements(op, body):
        if element.action not in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem",
                                  "Query", "Scan", "BatchWriteItem", "BatchGetItem"):
            found.setdefault((element.action, models.table_arn(region, element.table or "")), [])
            continue
        keys = leading_keys(region, element)
        if keys is False:
            continue
        resource = models.table_arn(region, element.table or "")
        if element.index:
            resource += f"/index/{element.index}"
        found.setdefault((element.action, resource), []).append(keys)  # type: ignore[arg-type]
    result = []
    for (action, resource), key_sets in found.items():
        # A batch's check covers all its keys at once; any unknown key makes the set unknown.
        merged: tuple[str, ...] | None = () if None not in key_sets else None
        if merged is not None:
            merged = tuple(sorted({k for keys in key_sets for k in keys or ()}))
        result.append(Check(f"dynamodb:{action}", resource, merged))
    return result


def denial_message(principal: Principal, check: Check, reason: str | None) -> str:
    message = (f"User: arn:aws:sts::{models.ACCOUNT_ID}:assumed-role/{principal.function}/local is not "
               f"authorized to perform: {check.action} on resource: {check.resource} because no "
               f"identity-based policy allows the {check.action} action")
    if check.leading_keys:
        message += f" (dynamodb:LeadingKeys: {', '.join(check.leading_keys)})"
    if reason:
        message += f" ({reason})"
    return message


def authorize(access_key: str | None, region: str, op: str, body: dict[str, Any]) -> None:
    """Raises AccessDeniedException for the first check of a registered principal's call that no
    statement allows; records the (sid, action) pairs that allowed the others."""
    principal = principals.get(access_key or "")
    if principal is None:
        return
    used = []
    for check in checks(region, op, body):
        reason = None
        allowing = None
        for statement in principal.statements:
            if not (matches(statement.actions, check.action, True) and matches(statement.resources, check.resource)):
                continue
            holds, why = condition_holds(statement.condition, check.leading_keys)
            if holds:
                allowing = statement.sid
                break
            reason = reason or why
        if allowing is None:
            message = denial_message(principal, check, reason)
            entry = (check.action, check.resource, check.leading_keys or (), message)
            if entry not in principal.denied:
                print(f"local IAM: {message}", file=sys.stderr, flush=True)
            principal.denied.add(entry)
            raise Refusal("AccessDeniedException", message, prefix="com.amazon.coral.service#")
        used.append((allowing, check.action))
    principal.allowed.update(used)
    principal.calls.update(used)
