"""Makes the local DynamoDB (moto's server) refuse what AWS refuses:

- iam: per-access-key identity policies (actions, resources, dynamodb:LeadingKeys), AccessDeniedException;
- limits: number range and precision, 400 KB items counted as AWS counts, key sizes, transaction and
  batch sizes, 1 MB pages, ValidationException;
- throughput: optional per-partition WCU/RCU, ThrottlingException;
- transactions: TransactWriteItems rolls back only the items it touched, not copies of whole tables.

`install()` patches moto's models and wraps `DomainDispatcherApplication.__call__`; call it before the
server's request lock wraps that, so that the checks run inside the lock.
"""

from moto.moto_server.werkzeug_app import DomainDispatcherApplication

from . import limits, throughput, transactions, wsgi


def install() -> None:
    limits.install()
    transactions.install()
    throughput.install()
    DomainDispatcherApplication.__call__ = wsgi.checked(DomainDispatcherApplication.__call__)
