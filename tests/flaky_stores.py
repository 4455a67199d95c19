"""Store doubles that fail some commits: the tests of retries, logs and metrics share them.

Each fails its first commits with the errors it is given, instead of committing: the
transaction is rolled back, as a store's failed commit leaves it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from mikoshi_progression.stores import AsyncInMemoryStore, InMemoryStore, StoreTransaction


class Flaky(InMemoryStore):
    """The in-memory store, failing its first commits with ``errors``."""

    def __init__(self, *errors: Exception) -> None:
        super().__init__()
        self.errors = list(errors)

    @contextmanager
    def transaction(self, user_id: str) -> Iterator[StoreTransaction]:
        with super().transaction(user_id) as tx:
            yield tx
            if self.errors:
                raise self.errors.pop(0)


class AsyncFlaky(AsyncInMemoryStore):
    """:class:`Flaky` for the async service, whether it runs whole attempts
    (``run_in_transaction``) or awaits each step (``transaction``)."""

    def __init__(self, *errors: Exception) -> None:
        super().__init__()
        self.errors = list(errors)

    def transaction(self, user_id: str) -> Any:
        context = super().transaction(user_id)
        errors = self.errors

        class Failing:
            async def __aenter__(self) -> Any:
                return await context.__aenter__()

            async def __aexit__(self, *exc_info: Any) -> None:
                if exc_info[0] is None and errors:  # fail instead of committing
                    error = errors.pop(0)
                    with suppress(type(error)):
                        await context.__aexit__(type(error), error, None)
                    raise error
                await context.__aexit__(*exc_info)

        return Failing()

    async def run_in_transaction(self, user_id: str, attempt: Any) -> Any:
        errors = self.errors

        def failing(tx: Any) -> Any:
            result = attempt(tx)
            if errors:  # raised inside the transaction: it rolls back
                raise errors.pop(0)
            return result

        return await super().run_in_transaction(user_id, failing)


class AsyncFlakyTransactionsOnly:
    """An :class:`AsyncFlaky` store without ``run_in_transaction``: the service awaits each
    load and write (the path of a store that runs no whole transactions)."""

    def __init__(self, *errors: Exception) -> None:
        self._inner = AsyncFlaky(*errors)
        self.transaction = self._inner.transaction
        self.ledger = self._inner.ledger
        self.create_schema = self._inner.create_schema
        self.close = self._inner.close
