"""A service's transaction on NDB: what NDB rolled back without saying so, and savepoints.

Measured on the test bed (docs/ndb-compatibility.md, "Runtime"):

- Once a statement of a multi-statement transaction has completed, **any** later statement
  that fails inside NDB (duplicate key 1062, foreign keys 1451/1452, NOT NULL 1048, too long
  1406, out of range 1264, lock wait 1205, ...) makes NDB roll back the whole transaction: the
  error comes with 1622 "Storage engine NDB does not support rollback for this statement.
  Transaction rolled back and must be restarted" among the session's conditions (mysqld's
  ha_ndbcluster `ndbcluster_rollback`: a statement rollback after `save_point_count > 0`
  marks the transaction for rollback). The statements before are gone; a caller that catches
  the error and carries on commits only what it sends afterwards. Errors the server raises
  before NDB is asked (1146 no such table, 1064 syntax) do not.
- A temporary NDB error (1297 "Got temporary error N ... from NDBCLUSTER": node failure 286,
  4010, 4025, ..., overload 410, 1220, ...) has aborted the NDB transaction; NDB says to retry
  it. oslo.db has no filter for 1297 and raises a plain DBError, which its retry decorator
  does not retry.

Both are reported as MySQL's 1213 "Deadlock found when trying to get lock; try restarting
transaction": on InnoDB too it means "your whole transaction was rolled back, run it again",
and oslo.db turns it into DBDeadlock, which `wrap_db_retry(retry_on_deadlock=True)` retries.
Until the caller rolls back, every further statement and COMMIT on that connection fails the
same way (the transaction is **poisoned**), so nothing sent after the loss can be committed
as if the lost part had been there.

A lock wait timeout (1205, NDB 266 "Time-out in NDB, probably caused by deadlock") of a
statement whose transaction holds nothing (no changed row, no locking read before it; or
autocommit) has lost nothing but that statement. NDB has no deadlock detector: a deadlock
lasts TransactionDeadlockDetectionTimeout, then fails one side or both. Measured ("Runtime"
(g)): NDB turns every read by a unique key into a shared-lock read held until the
transaction ends (NDB API NdbTransaction::readTuple; the BLOB/TEXT columns of nova's
build_requests add shared locks on the row, not the cycle), taking the unique index row
first, then the row; a DELETE of that row locks the row, then the index row - nova-api's
GET of a server being built against nova-conductor's delete of its build request. Such a
statement is sent again, at most LOCK_WAIT_RETRIES times: what InnoDB's longer wait
(innodb_lock_wait_timeout, 50 s) would give, the statement running once the lock is free.

Savepoints: NDB has none (1178 once an NDB table is in the transaction), so SAVEPOINT is not
sent (ndb_adapt.hook). Inside a savepoint an INSERT is sent as INSERT IGNORE: a duplicate key
(or missing foreign key parent) then skips the row with a warning instead of failing inside
NDB, which would lose the transaction; ndb_adapt raises the error InnoDB would have raised
(IntegrityError 1062 with the server's own "Duplicate entry ... for key ..." text). As the
statement changed nothing, a ROLLBACK TO SAVEPOINT that follows with no change since the
SAVEPOINT is a true no-op and is not sent. A ROLLBACK TO SAVEPOINT after changes still rolls
back the whole transaction and raises 1178, and poisons it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

ER_LOCK_DEADLOCK = 1213
ER_GET_TEMPORARY_ERRMSG = 1297
ER_WARN_ENGINE_TRANSACTION_ROLLBACK = 1622
ER_LOCK_WAIT_TIMEOUT = 1205
# "Some non-transactional changed tables couldn't be rolled back": the statement wrote to a
# MyISAM (temporary) table before failing, so sending it again would write twice.
ER_WARNING_NOT_COMPLETE_ROLLBACK = 1196
# Each wait lasts TransactionDeadlockDetectionTimeout (10 s rendered): at most 3 attempts,
# 30 s, within InnoDB's 50 s lock wait and oslo.messaging's 60 s rpc_response_timeout.
LOCK_WAIT_RETRIES = 2
LOCK_WAIT_JITTER_SECONDS = 0.1  # at most, before a statement is sent again
DEADLOCK_TEXT = "Deadlock found when trying to get lock; try restarting transaction"
# What INSERT IGNORE turns into a warning while skipping the row (the row is not written):
# a duplicate key, a child row without its parent. Any other warning of an INSERT IGNORE
# means a value was adjusted and written (NULL into NOT NULL, too long, out of range).
SKIPPED_ROW_CODES = frozenset({1062, 1452})
_INSERT = re.compile(r"^(\s*INSERT)(\s+)(?!IGNORE\b)", re.I)
_ROLLBACK = re.compile(r"^\s*ROLLBACK(?:\s+WORK)?\s*;?\s*$", re.I)
_UPSERT = re.compile(r"\bON\s+DUPLICATE\s+KEY\s+UPDATE\b", re.I)
_READS = ("SELECT", "SHOW", "SET", "DESCRIBE", "DESC", "EXPLAIN", "USE", "SAVEPOINT",
          "RELEASE", "DO", "HANDLER", "(")
_BOUNDARIES = ("COMMIT", "BEGIN", "START", "CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE",
               "LOCK", "UNLOCK")


@dataclass
class Transaction:
    """What ndb_adapt knows of one connection's current transaction."""

    changes: int = 0  # statements that changed rows since the transaction began
    locked: bool = False  # a locking read (FOR UPDATE, FOR SHARE) since it began
    savepoints: list[tuple[str, int]] = field(default_factory=list)  # (name, changes then)
    aborted: str = ""  # why NDB rolled the transaction back, until the caller rolls back

    def reset(self) -> None:
        self.changes = 0
        self.locked = False
        self.savepoints.clear()
        self.aborted = ""

    @property
    def holds_work(self) -> bool:
        """Something NDB's rollback of the whole transaction takes away: changed rows, or
        locks the caller believes it holds. A transaction of plain reads loses nothing."""
        return self.changes > 0 or self.locked

    def savepoint(self, name: str) -> None:
        self.savepoints = [s for s in self.savepoints if s[0] != name]
        self.savepoints.append((name, self.changes))

    def release(self, name: str) -> None:
        names = [s[0] for s in self.savepoints]
        if name in names:
            del self.savepoints[names.index(name):]

    def unchanged_since(self, name: str) -> bool:
        """ROLLBACK TO SAVEPOINT name would undo nothing: no row changed since it."""
        for saved, changes in self.savepoints:
            if saved == name:
                return changes == self.changes
        return False

    def rolled_back_to(self, name: str) -> None:
        """As MySQL: the savepoint stays, the later ones go."""
        names = [s[0] for s in self.savepoints]
        del self.savepoints[names.index(name) + 1:]

    def record(self, statement: str, rowcount: int) -> None:
        """After a statement that succeeded: a transaction boundary, or a change."""
        head = statement.lstrip()[:9].upper()
        if head.startswith(_BOUNDARIES) or _ROLLBACK.match(statement):
            self.reset()
        elif head.startswith("SELECT"):
            tail = statement[-80:].upper()
            self.locked = self.locked or "FOR UPDATE" in tail or "SHARE" in tail
        elif not head.startswith(_READS) and rowcount != 0:
            self.changes += 1


def accepted_when_poisoned(statement: str) -> bool:
    """ROLLBACK (also TO SAVEPOINT), and SHOW (SHOW WARNINGS after the error): what a
    poisoned transaction still accepts."""
    return statement.lstrip()[:8].upper().startswith(("ROLLBACK", "SHOW"))


def whole_transaction_lost(code: int, warning_codes: Sequence[int], holds_work: bool = True
                           ) -> bool:
    """Report this error as 1213: a temporary NDB error (retrying is what NDB asks for), or
    NDB rolled back the whole transaction (1622) and it held work (`holds_work`). After
    plain reads only, the error is raised as it is: nothing was lost, and a caller catching
    a duplicate as "someone else made it" behaves as on InnoDB."""
    if code == ER_GET_TEMPORARY_ERRMSG:
        return True
    return holds_work and ER_WARN_ENGINE_TRANSACTION_ROLLBACK in warning_codes


def send_again_after_lock_wait(code: int, warning_codes: Sequence[int], holds_work: bool,
                               autocommit: bool, retried: int) -> bool:
    """Send a statement that failed with `code` again: a lock wait timeout (1205) whose
    transaction lost nothing (`holds_work` false, or `autocommit`: the statement was its own
    transaction), that wrote nothing outside NDB (no 1196 among `warning_codes`), fewer than
    LOCK_WAIT_RETRIES times so far (`retried`)."""
    return (code == ER_LOCK_WAIT_TIMEOUT and (autocommit or not holds_work)
            and ER_WARNING_NOT_COMPLETE_ROLLBACK not in warning_codes
            and retried < LOCK_WAIT_RETRIES)


def deadlock_message(why: str) -> str:
    """1213's text (oslo.db matches "1213 ... Deadlock found") with what really happened."""
    return f"{DEADLOCK_TEXT} (ndb_adapt: NDB rolled back the whole transaction: {why})"


def as_insert_ignore(statement: str) -> str | None:
    """INSERT ... -> INSERT IGNORE ...; None if it is not a plain INSERT (already IGNORE, or
    ON DUPLICATE KEY UPDATE, where a duplicate is no error anyway)."""
    if _UPSERT.search(statement):
        return None
    match = _INSERT.match(statement)
    if match is None:
        return None
    return f"{match.group(1)} IGNORE{match.group(2)}{statement[match.end():]}"


@dataclass(frozen=True)
class IgnoredInsert:
    """What an INSERT IGNORE did, from its row count and warnings (Level, Code, Message)."""

    rowcount: int
    warnings: tuple[tuple[str, int, str], ...]

    @property
    def problems(self) -> tuple[tuple[str, int, str], ...]:
        return tuple(w for w in self.warnings if w[0] in ("Warning", "Error"))

    @property
    def skipped_only(self) -> bool:
        """Nothing written, and only because of duplicates or missing parents: the plain
        INSERT would have failed with the first of them and changed nothing."""
        return (self.rowcount == 0 and bool(self.problems)
                and all(w[1] in SKIPPED_ROW_CODES for w in self.problems))

    @property
    def clean(self) -> bool:
        return not self.problems


def warning_rows(rows: Sequence[tuple[Any, ...]]) -> tuple[tuple[str, int, str], ...]:
    return tuple((str(r[0]), int(r[1]), str(r[2])) for r in rows if len(r) > 2)
