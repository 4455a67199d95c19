"""A hypothesis state machine that proves any ``ProgressStore`` against ``InMemoryStore``.

An integrator who writes a store adapter proves it in a few lines::

    from mikoshi_progression.testing.machine import store_machine

    TestMyStore = store_machine(lambda: MyStore(...)).TestCase

The machine drives two :class:`~mikoshi_progression.service.ProgressionService`
instances side by side, one over the store under test and one over an
:class:`~mikoshi_progression.stores.InMemoryStore` (the reference), with one
shared :class:`FakeClock`. Hypothesis picks the steps: awards (valid, invalid,
creator awards, self-awards), repeats of idempotency keys, revocations, manual
resets, time-zone moves, limits queries, writes with stale versions or taken keys, and
clock moves (forward, across the day boundary, a few seconds backwards). After every
step both services must have answered alike, both stores must hold equal states and
ledgers (the events of each award included) that replay to those states, and a store
with an events feed must hand out the reference's events, in its order. Pass a config
with levers (``config=``) to prove them too.

``store_factory`` is called once per generated run and must return an **empty**
store each time (a new temporary file, a new database schema); the machine
closes it when the run ends.

>>> from hypothesis import settings
>>> from mikoshi_progression.stores import InMemoryStore
>>> run_store_machine(
...     InMemoryStore,
...     settings=settings(max_examples=3, stateful_step_count=10, database=None),
... )
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar, TypeVar

try:
    from hypothesis import settings as Settings
    from hypothesis import strategies as st
    from hypothesis.stateful import (
        Bundle,
        MultipleResults,
        RuleBasedStateMachine,
        initialize,
        invariant,
        multiple,
        precondition,
        rule,
        run_state_machine_as_test,
    )
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "mikoshi_progression.testing.machine needs hypothesis: "
        "install the [testing] extra (pip install -e '.[testing]' from a clone)"
    ) from exc

from ..core.config import DEFAULT_CONFIG, ProgressionConfig
from ..core.state import ProgressState
from ..errors import ProgressionError, SelfAwardError
from ..service import ProgressionService
from ..stores._feed import EventFeedStore
from ..stores.base import EntryKind, LedgerEntry, ProgressStore
from ..stores.memory import InMemoryStore
from ._machine_batches import BatchRules
from ._machine_checks import entry_summary, expect_refusal, load, same_award, same_ledger
from ._machine_clock import ClockRules
from .clock import FakeClock
from .invariants import check_award
from .strategies import INVALID_ACTION, configs

__all__ = [
    "DEFAULT_USERS",
    "FakeClock",
    "StoreMachine",
    "run_store_machine",
    "store_machine",
]

T = TypeVar("T")

DEFAULT_USERS = ("alice", "bob", "carol")
"""The user ids the machine acts on unless told otherwise."""

_START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_VISITOR = "visitor"
_ZONES = (None, "Asia/Tokyo", "America/New_York", "Pacific/Chatham")


@dataclass(frozen=True, slots=True)
class _Setup:
    """What :func:`store_machine` fixed for a machine class."""

    store_factory: Callable[[], ProgressStore]
    config: ProgressionConfig | None
    users: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Memo:
    """Versions read by ``remember_version``, and how many writes had been made then."""

    user: str
    subject_version: object
    reference_version: object
    ledger_length: int


_FRESH_KEYS: st.SearchStrategy[str | None] = st.one_of(
    st.none(),
    st.sampled_from(("k1", "k2", "k3")),
    st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=12),
)


def _users(machine: StoreMachine) -> st.SearchStrategy[str]:
    return st.sampled_from(machine.users)


def _recipient_and_actor(machine: StoreMachine) -> st.SearchStrategy[tuple[str, str]]:
    return st.sampled_from(machine.pairs)


def _actions(machine: StoreMachine) -> st.SearchStrategy[str]:
    return st.sampled_from((*sorted(machine.config.actions), INVALID_ACTION))


def _creator_actions(machine: StoreMachine) -> st.SearchStrategy[str]:
    return st.sampled_from(machine.creator_actions)


def _keyed_awards(machine: StoreMachine) -> st.SearchStrategy[tuple[str, str]]:
    return st.sampled_from(sorted(machine.keyed_awards))


_USERS = st.runner().flatmap(_users)
_PAIRS = st.runner().flatmap(_recipient_and_actor)
_ACTIONS = st.runner().flatmap(_actions)
_CREATOR_ACTIONS = st.runner().flatmap(_creator_actions)
_KEYED_AWARDS = st.runner().flatmap(_keyed_awards)


class StoreMachine(BatchRules, ClockRules, RuleBasedStateMachine):
    """Drives a store under test and the in-memory reference through the same steps.

    Build subclasses with :func:`store_machine`; subclass one further to add
    rules of your own (``self.subject`` and ``self.reference`` are the two
    services, ``self.clock`` their shared :class:`FakeClock`).

    Attributes:
        clock: The clock both services read.
        config: The rules both services apply.
        users: The user ids the steps act on.
        subject: The service over the store under test.
        reference: The service over a fresh :class:`InMemoryStore`.
    """

    setup: ClassVar[_Setup] = _Setup(InMemoryStore, DEFAULT_CONFIG, DEFAULT_USERS)

    keys: Bundle[str] = Bundle("keys")
    memos: Bundle[_Memo] = Bundle("memos")

    def __init__(self) -> None:
        super().__init__()
        setup = type(self).setup
        self.users = setup.users
        self.pairs = tuple(
            (user, actor)
            for user in self.users
            for actor in (*self.users, _VISITOR)
            if actor != user
        )
        self.clock = FakeClock()
        self.keyed_awards: set[tuple[str, str]] = set()
        self._key_actions: dict[str, str] = {}
        self._touched: set[str] = set()
        self._feeds: dict[str, tuple[str | None, list[tuple[object, ...]]]] = {
            "store under test": (None, []),
            "reference": (None, []),
        }
        self._reference_store = InMemoryStore()
        self._subject_store = setup.store_factory()
        try:
            self._subject_store.create_schema()
            self._use_config(setup.config or DEFAULT_CONFIG)
            self._require_empty()
        except BaseException:
            self.teardown()  # hypothesis tears down only the machines it got back
            raise

    def _require_empty(self) -> None:
        for user in self.users:
            if self._subject_store.ledger(user) or self.subject.state(user) != ProgressState():
                raise ValueError(
                    f"store_factory() returned a store that already holds user {user!r}: "
                    "it must return an empty store for every run (a new temporary file, "
                    "a new database schema)"
                )

    def _use_config(self, config: ProgressionConfig) -> None:
        self.config = config
        self.creator_actions = tuple(
            sorted(name for name, rule in config.actions.items() if rule.creator_award)
        )
        self.subject = ProgressionService(self._subject_store, config=config, clock=self.clock)
        self.reference = ProgressionService(self._reference_store, config=config, clock=self.clock)

    def teardown(self) -> None:
        self._reference_store.close()
        self._subject_store.close()

    # --- awards ------------------------------------------------------------------------

    @rule(target=keys, who=_PAIRS, action=_ACTIONS, key=_FRESH_KEYS)
    def award(self, who: tuple[str, str], action: str, key: str | None) -> MultipleResults[str]:
        """Award ``action`` to ``who[0]`` (creator awards come from ``who[1]``)."""
        self._award(who, action, key)
        return multiple() if key is None else multiple(key)

    @rule(who=_PAIRS, action=_ACTIONS, key=keys, same_action=st.booleans())
    def award_with_used_key(
        self, who: tuple[str, str], action: str, key: str, same_action: bool
    ) -> None:
        """Award again with a key already used (by any user), often for its first action."""
        if same_action:
            action = self._key_actions.get(key, action)
        self._award(who, action, key)

    @rule(who=_PAIRS, action=_ACTIONS, times=st.integers(2, 6))
    def award_repeatedly(self, who: tuple[str, str], action: str, times: int) -> None:
        """The same action several times in a row, without keys: limits and caps bite."""
        for _ in range(times):
            self._award(who, action, None)

    @precondition(lambda self: bool(self.creator_actions))
    @rule(user=_USERS, action=_CREATOR_ACTIONS, name_actor=st.booleans())
    def self_award(self, user: str, action: str, name_actor: bool) -> None:
        """A creator award claimed by its own creator (or by nobody) is refused by both."""
        actor = user if name_actor else None
        for label, service in self._services():
            try:
                service.award(user, action, actor_id=actor)
            except SelfAwardError:
                continue
            raise AssertionError(
                f"{label}: award({user!r}, {action!r}, actor_id={actor!r}) "
                "did not raise SelfAwardError"
            )

    def _award(self, who: tuple[str, str], action: str, key: str | None) -> None:
        user, actor = who
        before = self.reference.state(user)
        repeat = key is not None and (user, key) in self.keyed_awards
        what = f"award({user!r}, {action!r}, key={key!r}, actor_id={actor!r})"
        pair = self._both(what, lambda s: s.award(user, action, key=key, actor_id=actor))
        self._touched.add(user)
        if key is not None:
            self._key_actions.setdefault(key, action)
        if pair is None:
            return
        expected, actual = pair
        same_award(what, actual, expected)
        if not repeat and not self.config.uses_levers:  # the seed's rules' invariants
            for label, result in (("store under test", actual), ("reference", expected)):
                try:
                    check_award(before, result, self.config)
                except AssertionError as exc:
                    raise AssertionError(f"{what} in the {label}: {exc}") from exc
        if key is not None and actual.success:
            self.keyed_awards.add((user, key))

    # --- other commands and queries ----------------------------------------------------

    @rule(user=_USERS, key=keys)
    def revoke(self, user: str, key: str) -> None:
        """Take back what the award made with ``key`` gave (nothing if it gave nothing)."""
        self._revoke(user, key)

    @precondition(lambda self: bool(self.keyed_awards))
    @rule(pick=_KEYED_AWARDS)
    def revoke_keyed_award(self, pick: tuple[str, str]) -> None:
        """Take back an award that was made (and maybe already taken back)."""
        self._revoke(*pick)

    def _revoke(self, user: str, key: str) -> None:
        what = f"revoke({user!r}, {key!r})"
        pair = self._both(what, lambda s: s.revoke(user, key))
        self._touched.add(user)
        if pair is None:
            return
        expected, actual = pair
        if actual != expected:
            raise AssertionError(
                f"{what}: the store under test gave {entry_summary(actual)}, "
                f"the reference {entry_summary(expected)}"
            )

    @rule(user=_USERS)
    def reset_daily(self, user: str) -> None:
        """An operator's manual reset of the user's day."""
        what = f"reset_daily({user!r})"
        pair = self._both(what, lambda s: s.reset_daily(user))
        self._touched.add(user)
        if pair is not None and pair[0] != pair[1]:
            raise AssertionError(f"{what}: store under test {pair[1]}, reference {pair[0]}")

    @rule(
        user=_USERS,
        delta=st.integers(-300, 300).filter(bool),
        key=st.sampled_from([None, "adj-1", "adj-2"]),
    )
    def adjust(self, user: str, delta: int, key: str | None) -> None:
        """An operator's grant or deduction (refused alike by both when it would take EXP
        below 0, or reuses a key for another request)."""
        what = f"adjust({user!r}, {delta}, key={key!r})"
        pair = self._both(
            what, lambda s: s.adjust(user, delta, reason="support", operator="op", key=key)
        )
        self._touched.add(user)
        if pair is not None and pair[0] != pair[1]:
            raise AssertionError(
                f"{what}: store under test {entry_summary(pair[1])}, "
                f"reference {entry_summary(pair[0])}"
            )

    @rule(user=_USERS, exp=st.integers(0, 4000))
    def set_exp(self, user: str, exp: int) -> None:
        """An operator sets a migrated balance."""
        what = f"set_exp({user!r}, {exp})"
        pair = self._both(what, lambda s: s.set_exp(user, exp, reason="migrated", operator="op"))
        self._touched.add(user)
        if pair is not None and pair[0] != pair[1]:
            raise AssertionError(
                f"{what}: store under test {entry_summary(pair[1])}, "
                f"reference {entry_summary(pair[0])}"
            )

    @rule(user=_USERS, zone=st.sampled_from(_ZONES), key=st.sampled_from([None, "tz-1", "tz-2"]))
    def set_timezone(self, user: str, zone: str | None, key: str | None) -> None:
        """The user moves to another time zone (alike refused when the key named another)."""
        what = f"set_timezone({user!r}, {zone!r}, key={key!r})"
        pair = self._both(what, lambda s: s.set_timezone(user, zone, key=key))
        self._touched.add(user)
        if pair is not None and pair[0] != pair[1]:
            raise AssertionError(f"{what}: store under test {pair[1]}, reference {pair[0]}")

    @rule(user=_USERS)
    def limits(self, user: str) -> None:
        """``GET /api/exp/limits``, which persists a day reset when a day has begun."""
        what = f"limits({user!r})"
        pair = self._both(what, lambda s: s.limits(user))
        self._touched.add(user)
        if pair is not None and pair[0] != pair[1]:
            raise AssertionError(f"{what}: store under test {pair[1]}, reference {pair[0]}")

    # --- the store's own contract: optimistic versions and unique keys -----------------

    @rule(target=memos, user=_USERS)
    def remember_version(self, user: str) -> _Memo:
        """Read the user's version in both stores, to write with it later."""
        return _Memo(
            user,
            load(self.subject.store, user).version,
            load(self.reference.store, user).version,
            len(self.reference.ledger(user)),
        )

    @rule(memo=memos)
    def write_with_stale_version(self, memo: _Memo) -> None:
        """A write with a version read before the user's last write is refused whole."""
        if len(self.reference.ledger(memo.user)) == memo.ledger_length:
            return  # nothing was written since: the version is still current
        self._touched.add(memo.user)
        for label, store, version in (
            ("store under test", self.subject.store, memo.subject_version),
            ("reference", self.reference.store, memo.reference_version),
        ):
            expect_refusal(
                f"{label}: a write with a stale version of {memo.user!r}",
                partial(self._bogus_write, store, memo.user, version=version),
            )

    @precondition(lambda self: bool(self.keyed_awards))
    @rule(pick=_KEYED_AWARDS)
    def write_with_taken_key(self, pick: tuple[str, str]) -> None:
        """A write that records an idempotency key already recorded is refused whole."""
        user, key = pick
        self._touched.add(user)
        for label, service in self._services():
            expect_refusal(
                f"{label}: a write recording {user!r}'s taken key {key!r} again",
                partial(self._bogus_write, service.store, user, key=key),
            )

    def _bogus_write(
        self, store: ProgressStore, user: str, *, version: object = None, key: str | None = None
    ) -> None:
        """Load ``user`` and write a state nobody could reach, with one ledger entry.

        With ``version``, write with it instead of the loaded one; with ``key``,
        record the award made with ``key`` a second time.
        """
        with store.transaction(user) as tx:
            snap = tx.load(key)
            state = replace(snap.state, exp=snap.state.exp + 1_000_000)
            if key is None:
                entry = LedgerEntry(
                    user_id=user,
                    kind=EntryKind.DAY,
                    action="",
                    exp_delta=0,
                    level_before=state.level,
                    level_after=state.level,
                    key=None,
                    at=self.clock(),
                    config_fingerprint=self.config.fingerprint,
                    state_after=state,
                )
            else:
                if snap.keyed_award is None:
                    raise AssertionError(f"load({key!r}) of {user!r} lost the award of that key")
                entry = replace(snap.keyed_award, seq=None, state_after=state)
                version = snap.version
            tx.write(state, version, [entry])

    # --- after every step ----------------------------------------------------------------

    @invariant()
    def stores_agree(self) -> None:
        """Equal states and ledgers in both stores; touched users' ledgers replay."""
        for user in self.users:
            expected, actual = self.reference.state(user), self.subject.state(user)
            if actual != expected:
                raise AssertionError(
                    f"stored state of {user!r} differs:\n"
                    f"  store under test: {actual}\n  reference:        {expected}"
                )
            same_ledger(user, self.subject.ledger(user), self.reference.ledger(user))
        for user in sorted(self._touched):
            report = self.subject.replay(user)
            if not report.matches:
                raise AssertionError(
                    f"the ledger of {user!r} in the store under test replays to "
                    f"{report.state}, but the store holds {report.stored}"
                )
            report = self.reference.replay(user)
            if not report.matches:  # pragma: no cover - a bug in the library itself
                raise AssertionError(
                    f"the reference ledger of {user!r} replays to {report.state}, but "
                    f"InMemoryStore holds {report.stored} (a bug in mikoshi-progression)"
                )
        self._touched.clear()

    @invariant()
    def feeds_agree(self) -> None:
        """What the store under test's events feed hands out is what the reference's does, in
        the same order for each user (it may lag: PostgreSQL waits for other clients'
        transactions)."""
        if not isinstance(self.subject.store, EventFeedStore):
            return
        for label, service in self._services():
            cursor, seen = self._feeds[label]
            page = service.events(since=cursor, limit=1000)
            seen += [(e.user_id, e.seq, e.at, e.action, e.event) for e in page.events]
            self._feeds[label] = (page.cursor, seen)
        got, want = self._feeds["store under test"][1], self._feeds["reference"][1]
        # Each user's events in the reference's order; across users, the awards of one
        # batch transaction commit together and may be listed in any order.
        if any(
            mine != theirs[: len(mine)]
            for mine, theirs in (
                ([e for e in got if e[0] == user], [e for e in want if e[0] == user])
                for user in self.users
            )
        ):
            raise AssertionError(
                f"the events feed of the store under test differs from the reference's:\n"
                f"  store under test: {got}\n  reference:        {want}"
            )

    # --- helpers -------------------------------------------------------------------------

    def _services(self) -> tuple[tuple[str, ProgressionService], ...]:
        return (("store under test", self.subject), ("reference", self.reference))

    def _both(self, what: str, call: Callable[[ProgressionService], T]) -> tuple[T, T] | None:
        """Run ``call`` on the reference, then on the store under test.

        Returns ``(expected, actual)``, or ``None`` if both raised the same
        library error; raises ``AssertionError`` if they did not behave alike.
        """
        expected_error: ProgressionError | None = None
        try:
            expected = call(self.reference)
        except ProgressionError as exc:
            expected_error = exc
        try:
            actual = call(self.subject)
        except Exception as exc:
            if expected_error is not None and type(exc) is type(expected_error):
                return None
            did = f"raised {expected_error!r}" if expected_error else f"returned {expected!r}"
            raise AssertionError(
                f"{what}: the store under test raised {exc!r}; the reference {did}"
            ) from exc
        if expected_error is not None:
            raise AssertionError(
                f"{what}: the reference raised {expected_error!r}, "
                f"the store under test returned {actual!r}"
            )
        return expected, actual


class _RandomConfigStoreMachine(StoreMachine):
    """A :class:`StoreMachine` whose config is drawn anew for each run."""

    @initialize(config=configs())
    def choose_config(self, config: ProgressionConfig) -> None:
        """Play this run under ``config``."""
        self._use_config(config)


def store_machine(
    store_factory: Callable[[], ProgressStore],
    *,
    config: ProgressionConfig | None = DEFAULT_CONFIG,
    users: Sequence[str] = DEFAULT_USERS,
) -> type[StoreMachine]:
    """A state machine class proving the stores ``store_factory`` makes.

    Args:
        store_factory: Called once per generated run; must return an **empty**
            store each time (a new temporary file, a new database schema). The
            machine calls ``create_schema()`` on it and closes it at the end of
            the run.
        config: The rules the services apply; ``None`` draws a new config for
            every run from :func:`~mikoshi_progression.testing.strategies.configs`
            (other time zones, reset hours, small limits and caps).
        users: The user ids the steps act on (two or three are plenty).

    Turn the class into a test with ``.TestCase`` (pytest and unittest collect
    it) and tune it with ``.TestCase.settings = hypothesis.settings(...)``, or
    pass it to :func:`run_store_machine`.

    >>> from mikoshi_progression.stores import InMemoryStore
    >>> TestInMemoryStore = store_machine(InMemoryStore).TestCase
    >>> TestInMemoryStore.__name__
    'InMemoryStoreMachine.TestCase'
    """
    users = tuple(users)
    if not users or len(set(users)) != len(users):
        raise ValueError(f"users must be distinct user ids, at least one, got {users!r}")
    if any(not isinstance(user, str) for user in users):
        raise TypeError(f"users must be strings, got {users!r}")
    base = StoreMachine if config is not None else _RandomConfigStoreMachine
    name = getattr(store_factory, "__qualname__", "")
    name = f"{name}Machine" if name.isidentifier() else "StoreMachine"
    namespace: dict[str, Any] = {
        "setup": _Setup(store_factory, config, users),
        "__module__": __name__,
        "__qualname__": name,
        "__doc__": f"The store machine over {store_factory!r}.",
    }
    return type(name, (base,), namespace)


def run_store_machine(
    store_factory: Callable[[], ProgressStore],
    *,
    config: ProgressionConfig | None = DEFAULT_CONFIG,
    users: Sequence[str] = DEFAULT_USERS,
    settings: Settings | None = None,
) -> None:
    """Run :func:`store_machine` now, inside a test function of your own.

    Raises what the machine found (usually an ``AssertionError`` naming the
    difference), after hypothesis has printed the shortest steps that show it.
    Without ``settings``, the machine's ``TestCase.settings`` apply (your
    loaded profile, without a deadline).
    """
    machine = store_machine(store_factory, config=config, users=users)
    run_state_machine_as_test(machine, settings=settings)
