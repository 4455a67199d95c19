"""Checks of the transaction protocol itself: versions, keys, rollback, atomic writes."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from ...core.state import ProgressState
from ...stores import (
    EntryKind,
    StaleVersionError,
)
from ._support import (
    StoreFactory,
    _entry,
    _generated,
    _raises,
    _user,
)

# --- the transaction protocol itself ----------------------------------------------------


def check_stale_version_rejected(factory: StoreFactory) -> None:
    """A write with an outdated version (or a second insert) is refused and keeps nothing."""
    store = factory()
    user = _user("stale")
    first = ProgressState(exp=10)
    with store.transaction(user) as tx:
        snap = tx.load()
        assert (snap.version, snap.exists, snap.has_ledger) == (None, False, False)
        tx.write(first, snap.version, [])
    with _raises(StaleVersionError), store.transaction(user) as tx:
        tx.load()
        tx.write(ProgressState(exp=99), None, [_entry(user, EntryKind.AWARD, "lost-1")])
    with store.transaction(user) as tx:
        snap = tx.load()
        assert snap.state == first
        assert snap.exists
        outdated = snap.version
        tx.write(ProgressState(exp=20), outdated, [])
    with _raises(StaleVersionError), store.transaction(user) as tx:
        tx.load()
        tx.write(ProgressState(exp=99), outdated, [_entry(user, EntryKind.AWARD, "lost-2")])
    with store.transaction(user) as tx:
        assert tx.load().state == ProgressState(exp=20)
    assert store.ledger(user) == []


def check_duplicate_key_is_stale(factory: StoreFactory) -> None:
    """Recording a key the user's ledger already holds for that kind is a conflict, not a row."""
    store = factory()
    user = _user("dup")
    award = _entry(user, EntryKind.AWARD, "k")
    with store.transaction(user) as tx:
        tx.write(ProgressState(exp=15), tx.load("k").version, [award])
    with store.transaction(user) as tx:
        snap = tx.load("k")
        assert (snap.keyed_award, snap.keyed_revoke, snap.has_ledger) == (award, None, True)
    with _raises(StaleVersionError), store.transaction(user) as tx:
        tx.write(ProgressState(exp=30), tx.load().version, [replace(award, exp_delta=30)])
    revoke = _entry(user, EntryKind.REVOKE, "k", exp_delta=-15, state_after=ProgressState())
    with store.transaction(user) as tx:
        tx.write(ProgressState(), tx.load().version, [revoke])
    with store.transaction(user) as tx:
        snap = tx.load("k")
        assert (snap.state, snap.keyed_award, snap.keyed_revoke) == (ProgressState(), award, revoke)
    assert store.ledger(user) == [award, revoke]


def check_transaction_rolls_back_on_error(factory: StoreFactory) -> None:
    """An exception inside a transaction keeps nothing of its write."""
    store = factory()
    user = _user("rollback")

    class Boom(Exception):
        pass

    def fail() -> None:
        raise Boom

    with _raises(Boom), store.transaction(user) as tx:
        tx.write(ProgressState(exp=5), tx.load().version, [_entry(user, EntryKind.AWARD, "b")])
        fail()
    with store.transaction(user) as tx:
        assert not tx.load().exists
    assert store.ledger(user) == []


# --- the version check and the single transaction, once more ------------------------------


def check_every_write_is_version_checked(factory: StoreFactory, *, max_examples: int = 15) -> None:
    """Whatever versions a writer holds, a write commits exactly when its version is the
    current one (``None`` for a user not stored yet): a second, generated check of the
    version, independent of ``stale_version_rejected``."""
    store = factory()

    @_generated(max_examples)
    @given(choices=st.lists(st.integers(min_value=0, max_value=6), min_size=2, max_size=8))
    def writes_commit_only_at_the_current_version(choices: list[int]) -> None:
        user = _user("versions")
        seen: list[object] = [None]  # every version a reader has held, oldest first
        kept = ProgressState()
        keys: list[str] = []
        for step, choice in enumerate(choices):
            state = ProgressState(exp=step + 1)
            key = f"w{step}"
            current = False
            try:
                with store.transaction(user) as tx:
                    snap = tx.load()
                    assert snap.state == kept, (snap.state, kept)
                    if snap.version not in seen:
                        seen.append(snap.version)
                    held = seen[-1 - choice % len(seen)]
                    current = held == snap.version
                    entry = _entry(user, EntryKind.AWARD, key, state_after=state)
                    tx.write(state, held, [entry])  # refused now or at commit
            except StaleVersionError:
                assert not current, "a write at the current version was refused"
                continue
            if current:
                kept = state
                keys.append(key)
            else:  # pragma: no cover - reached only by a store that ignores versions
                raise AssertionError(f"a write at an outdated version {held!r} committed")
        with store.transaction(user) as tx:
            assert tx.load().state == kept
        assert [e.key for e in store.ledger(user)] == keys

    writes_commit_only_at_the_current_version()


def check_write_is_all_or_nothing(factory: StoreFactory) -> None:
    """A write refused for one of its entries keeps nothing of it: not the state, not the
    version, not its other entries (state and ledger are one transaction): a second check,
    independent of ``duplicate_key_is_stale``."""
    store = factory()
    user = _user("atomic")
    first = _entry(user, EntryKind.AWARD, "k1")
    with store.transaction(user) as tx:
        tx.write(ProgressState(exp=15), tx.load().version, [first])
    with store.transaction(user) as tx:
        version = tx.load().version
    refused = [
        [_entry(user, EntryKind.DAY, None), _entry(user, EntryKind.AWARD, "k2"), first],
        [_entry(user, EntryKind.AWARD, "k3"), _entry(user, EntryKind.AWARD, "k3")],
    ]
    for entries in refused:
        with _raises(StaleVersionError), store.transaction(user) as tx:
            tx.load()
            tx.write(ProgressState(exp=99), version, entries)
        with store.transaction(user) as tx:
            snap = tx.load()
        assert snap.state == ProgressState(exp=15), "the state of a refused write was kept"
        assert snap.version == version, "a refused write changed the version"
        assert store.ledger(user) == [first], "entries of a refused write were kept"
    second = _entry(user, EntryKind.AWARD, "k2", exp_delta=30)
    with store.transaction(user) as tx:
        tx.load()
        tx.write(ProgressState(exp=45), version, [second])
    assert store.ledger(user) == [first, second]
