"""tests/openstack's services follow the catalog: their databases and migration commands come
from config/catalog.yaml, their pins from one file; what stays hand-written cannot drift."""

from __future__ import annotations

import shlex
from itertools import dropwhile

import pytest

from config.catalog import load_catalog
from ndb_adapt.log import LOG_FILE_ENV, note
from tests.openstack.migrations import ADAPT_LINE
from tests.openstack.services import (
    PINS,
    SERVICES,
    Target,
    is_plain_command,
    migration_commands,
    read_pins,
)

# Catalog bootstrap steps the runs without the adaptation leave out, each by the program and
# subcommand its line starts with: they write rows, not schema.
DATA_STEPS = {
    ("keystone", "keystone-manage bootstrap"): "the admin, its project, roles and endpoints",
    ("nova", "nova-manage cell_v2 list_cells"): "cell1's mapping, made when missing",
}


def command_name(line: str) -> str:
    """'nova-manage cell_v2 map_cell0' for a bootstrap line: the program after any
    environment assignments, then the words up to the first option or shell operator."""
    words = list(dropwhile(lambda word: "=" in word, shlex.split(line)))
    name, rest = [words[0]], iter(words[1:])
    for word in rest:
        if word == "--config-file":
            next(rest)
        elif word.startswith("-") or word in {"|", "||", "&&", ";"}:
            break
        else:
            name.append(word)
    return " ".join(name)


def test_pins_hold_every_catalog_service_with_databases_in_catalog_order() -> None:
    catalog = load_catalog().services
    with_databases = [name for name, s in catalog.items() if s.databases]
    services = [name for name in read_pins() if name in catalog]
    assert set(with_databases) <= set(services), f"update {PINS.name}"
    assert services == [name for name in catalog if name in services], "catalog order"
    pinned = [r for pin in read_pins().values() for r in (pin.requirement, *pin.extras)]
    assert all(r.count("==") == 1 for r in pinned), pinned


@pytest.mark.parametrize("name", list(SERVICES))
def test_every_bootstrap_line_is_run_or_a_known_data_step(name: str) -> None:
    bootstrap = load_catalog().services[name].bootstrap
    assert bootstrap is not None
    run = {" ".join(w for w in argv if w not in {"--config-file", "{conf}"})
           for argv in SERVICES[name].commands}
    for line in bootstrap.commands:
        step = command_name(line)
        if (name, step) in DATA_STEPS:
            assert not is_plain_command(line), f"{step} would run: drop it from DATA_STEPS"
        else:
            assert step in run, f"{name}: the catalog runs {step!r}, the unadapted runs do not"
    named = {step for service, step in DATA_STEPS if service == name}
    assert named <= {command_name(line) for line in bootstrap.commands}, "stale DATA_STEPS"


@pytest.mark.parametrize("name", list(SERVICES))
def test_each_hand_written_config_connects_every_catalog_database(name: str) -> None:
    """The minimal config's sections are the catalog's (nova_cell0 has no section: map_cell0
    derives its URL from the main database's)."""
    target = Target("db", 3306, name, "pw")
    text = SERVICES[name].config(target)
    for ref in load_catalog().services[name].database_refs:
        assert f"[{ref.section}]\nconnection = {target.url(ref.database)}\n" in text, ref


def test_migration_commands_keep_plain_commands_only() -> None:
    lines = [
        "svc-manage --config-file {conf:a.conf} --config-file {conf:b.ini} upgrade heads",
        "svc-manage --config-file {conf:a.conf} list | grep -q x || svc-manage create",
        'PW="$$(cat {secret:admin-password})" svc-manage bootstrap',
        "svc-manage --config-file {conf:a.conf} bootstrap --user ${admin_user}",
        "svc-manage --config-file {conf:a.conf} db sync",
    ]
    assert migration_commands(lines) == (
        ("svc-manage", "--config-file", "{conf}", "upgrade", "heads"),
        ("svc-manage", "--config-file", "{conf}", "db", "sync"),
    )


def test_adapt_line_reads_what_ndb_adapt_logs(capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/openstack judge a migration by these lines: the pattern must read ndb_adapt's."""
    monkeypatch.delenv(LOG_FILE_ENV, raising=False)
    note("prefix_index", "migrations", "index ix dropped")
    note("failed", "", "codes=[1005, 738]")
    err = capsys.readouterr().err
    seen = [(m.group("rule"), m.group("table")) for m in ADAPT_LINE.finditer(err)]
    assert seen == [("prefix_index", "migrations"), ("failed", "-")]
