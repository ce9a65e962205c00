"""Cron schedules: the five-field syntax of crontab(5), checked here and matched by the
backup job's loop (components/render/scripts/ndb-backup.sh, `cron_matches`).

Each field is a comma list of `*`, `N`, `N-M`, each optionally `/STEP`; ranges minute 0-59,
hour 0-23, day of month 1-31, month 1-12, day of week 0-7 (0 and 7 are Sunday). As in
crontab(5), when both day fields are restricted (neither starts with `*`) a day matches if
either does. Names (`mon`, `jan`) and `@daily` are not accepted: the shell matcher reads
numbers only, and one grammar in both places is what the test compares.
"""

from __future__ import annotations

import re
from datetime import datetime

FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
          ("day of week", 0, 7))
_ITEM = re.compile(r"^(\*|\d+|\d+-\d+)(/\d+)?$")


def parse_field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    """The values one field allows; ValueError naming the field and the fault."""
    values: set[int] = set()
    for item in text.split(","):
        match = _ITEM.match(item)
        if not match:
            raise ValueError(f"{name} field {text!r}: {item!r} is not *, N, N-M or one of "
                             "them with /STEP")
        base, step_text = match.groups()
        step = int(step_text[1:]) if step_text else 1
        if step < 1:
            raise ValueError(f"{name} field {text!r}: a step must be at least 1")
        if base == "*":
            first, last = low, high
        elif "-" in base:
            first, last = (int(v) for v in base.split("-"))
        else:
            first = last = int(base)
            if step_text:  # crontab(5): N/STEP runs from N to the end of the range
                last = high
        if not (low <= first <= high and low <= last <= high) or first > last:
            raise ValueError(f"{name} field {text!r}: {item!r} is outside {low}-{high}")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def validate(schedule: str) -> str:
    """`schedule` unchanged if it is five valid fields; else ValueError saying what is wrong."""
    fields = schedule.split()
    if len(fields) != 5:
        raise ValueError(f"{schedule!r} has {len(fields)} fields; a cron schedule has five: "
                         "minute hour day-of-month month day-of-week, e.g. '30 2 * * *'")
    for text, (name, low, high) in zip(fields, FIELDS, strict=True):
        parse_field(text, name, low, high)
    return schedule


def matches(schedule: str, when: datetime) -> bool:
    """Whether a job on `schedule` runs in the minute of `when` (crontab(5) semantics)."""
    fields = validate(schedule).split()
    sets = [parse_field(t, n, lo, hi) for t, (n, lo, hi) in zip(fields, FIELDS, strict=True)]
    minute, hour, dom, month, dow = sets
    dow = dow | ({0} if 7 in dow else set())
    weekday = (when.weekday() + 1) % 7  # Python: Monday 0; cron: Sunday 0
    day_ok = when.day in dom, weekday in dow
    if fields[2].startswith("*") or fields[4].startswith("*"):
        day = day_ok[0] and day_ok[1]
    else:
        day = day_ok[0] or day_ok[1]
    return when.minute in minute and when.hour in hour and when.month in month and day
