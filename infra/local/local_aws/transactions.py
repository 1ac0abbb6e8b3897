"""TransactWriteItems whose cost follows the items it touches. moto deep-copies every table a transaction
names to roll back on failure (4.5 s for two items at ~15,000, with every other request waiting);
this keeps moto's behaviour but snapshots only the transaction's own items and its tables' stream
positions, and on failure restores those items and drops the stream records the transaction added."""

from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (ConditionalCheckFailed, MockValidationException, MultipleTransactionsException,
                                      TooManyTransactionsException, TransactionCanceledException,
                                      TransactWriteSingleOpException)
from moto.dynamodb.models import DynamoDBBackend

from . import rollback


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    positions = {name: rollback.stream_position(self.tables[name])
                 for entry in transact_items for op in entry.values()
                 if (name := op.get("TableName")) in self.tables}
    saved: list[rollback.ItemSnapshot] = []

    def undo() -> None:
        for snapshot in reversed(saved):
            rollback.restore(snapshot)
        for name, position in positions.items():
            rollback.drop_stream_records_since(self.tables[name], position)

    target_items: set[tuple[str, str]] = set()
    errors: list[tuple[Any, Any, Any]] = []  # (code, message, item) per element, as moto reports them
    for entry in transact_items:
        original_item: dict[str, Any] | None = None
        if len(entry) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(entry.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            table = self.get_table(table_name)
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            condition = op.get("ConditionExpression")
            if op_type == "Put":
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            unique = (str(table_name), str(dict(sorted(key.items()))))
            if unique in target_items:
                raise MultipleTransactionsException()
            target_items.add(unique)

            current = self.get_item(table_name, key)
            if condition is not None and not get_filter_expression(condition, names, values).expr(current):
                if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                    original_item = current.to_json()["Attributes"]
                raise ConditionalCheckFailed(item=original_item)

            if op_type != "ConditionCheck":
                saved.append(rollback.snapshot(table, *self.get_keys_value(table, key)))
            if op_type == "Put":
                self.put_item(table_name, op["Item"], condition_expression=condition,
                              expression_attribute_names=names, expression_attribute_values=values)
            elif op_type == "Delete":
                self.delete_item(table_name, key, condition_expression=condition,
                                 expression_attribute_names=names, expression_attribute_values=values)
            elif op_type == "Update":
                self.update_item(table_name, key, update_expression=op["UpdateExpression"],
                                 condition_expression=condition, expression_attribute_names=names,
                                 expression_attribute_values=values)
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            undo()
            raise
        except ConditionalCheckFailed as error:
            errors.append(("ConditionalCheckFailed", str(error.message), original_item))
        except Exception as error:  # moto reports any other failure as that element's reason
            errors.append((type(error).__name__, str(error), original_item))

    if any(code is not None for code, _, _ in errors):
        undo()
        raise TransactionCanceledException(errors)


def install() -> None:
    DynamoDBBackend.transact_write_items = transact_write_items
