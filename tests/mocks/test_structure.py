"""The structure promises, under mocks with the real stack files:

- a new OpenStack service is one catalog entry: a made-up second image API, added to a copy
  of the catalog, deploys with no code change, and every existing resource keeps its URN and
  inputs - except the few that by nature list every service, each changed only as expected;
- config files are plain text (a preview diffs them); a secret travels only in a file that
  holds nothing but secrets.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import pytest
import yaml

import config.catalog
from components.render.monitoring import MYSQLD_EXPORTER_CNF_PATH, NDBINFO_EXPORTER_CONFIG_PATH
from config.addressing import service_block
from tests.mock_program import (
    SECRET_SIG,
    Registered,
    Run,
    mock_password,
    run_program,
    stack_config,
)
from tests.mocks.test_openstack import SECRET_KEY, unwrap, uploads
from tests.mocks.test_program import CONTAINER, run
from tests.stacks import STACKS

# A second glance-like image API: the same image and migrations, its own database, ports,
# keystone type and slot. Nothing in the code knows it.
NEXT_SLOT = max(s.slot for s in config.catalog.load_catalog().services.values()) + 1
MADE_UP = {
    "slot": NEXT_SLOT,
    "description": "A second image service (made up for a test)",
    "databases": ["glance2"],
    "ndbSizing": {"version": "33.0.0", "tables": 27, "orderedIndexes": 54,
                  "uniqueHashIndexes": 9, "foreignKeys": 11, "triggers": 85,
                  "attributes": 227},
    "database": {"database": "glance2"},
    "keystone": {"type": "image2", "api": "api", "path": ""},
    "authtoken": True,
    "cache": True,
    "apis": {"api": {"port": 9393, "backendPort": 29393}},
    "containers": {"api": {"image": "glance-api", "wsgi": "glance.wsgi.api:application",
                           "api": "api", "user": "glance",
                           "healthcheck": ["healthcheck_curl",
                                           "http://${bind_host}:${api_port}"]}},
    "configFiles": {"glance-api.conf": {
        "dest": "/etc/glance2/glance-api.conf",
        "sections": {"DEFAULT": {"enabled_backends": "file:file"},
                     "glance_store": {"default_backend": "file"},
                     "file": {"filesystem_store_datadir": "/var/lib/glance2/images/"}}}},
    "bootstrap": {"image": "glance-api", "user": "glance",
                  "commands": ["glance-manage --config-file {conf:glance-api.conf} db_sync"]},
    "dependsOn": ["keystone"],
}
# The resources that list every service by nature, and what may change in them.
API_ENDPOINT = "openstack-infra-api-endpoint-1"  # a frontend and a published port per API
CONFIG_INI = "ndb-mgmd-1-container"  # config.ini's dictionary limits grow with the tables
ROLLING_RESTART = "ndb-group-0-rolling-restart"  # keyed by config.ini's hash


@pytest.fixture(scope="module")
def with_made_up_service(tmp_path_factory: pytest.TempPathFactory) -> Run:
    # First in the catalog file and second in openstack.services: neither position may
    # move another service (only the entry's slot places it).
    catalog = yaml.safe_load(config.catalog.CATALOG.read_text())
    catalog = {"glance2": MADE_UP, **catalog}
    path = tmp_path_factory.mktemp("catalog") / "catalog.yaml"
    path.write_text(yaml.safe_dump(catalog, sort_keys=False))
    stack = dict(stack_config("dev"))
    openstack = dict(stack["openstack-ndb:openstack"])
    services = list(openstack["services"])
    openstack["services"] = [services[0], "glance2", *services[1:]]
    stack["openstack-ndb:openstack"] = openstack
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(config.catalog, "CATALOG", path)
        made_up = run_program(stack, "dev")
    return made_up  # the tests' own runs (run("dev")) see the real catalog again


def _by_urn(r: Run) -> dict[str, Registered]:
    return {x.urn: x for x in r.resources}


def _upload(container: Registered, path: str) -> str:
    return str(next(unwrap(u["content"]) for u in uploads(container) if u["file"] == path))


def test_a_new_service_is_one_catalog_entry(with_made_up_service: Run) -> None:
    before, after = _by_urn(run("dev")), _by_urn(with_made_up_service)
    assert set(before) <= set(after)  # every URN is kept
    added = {after[u].name for u in set(after) - set(before)}
    assert "openstack-glance2" in added and "openstack-glance2-api-1" in added
    assert {"openstack-glance2-database", "openstack-glance2-bootstrap",
            "openstack-glance2-ndb-gate", "openstack-glance2-endpoint-public"} <= added
    assert all(name.startswith("openstack-glance2") for name in added), added
    changed = {before[u].name for u in before if before[u].inputs != after[u].inputs}
    assert changed == {API_ENDPOINT, CONFIG_INI, ROLLING_RESTART}

    def by_name(resources: dict[str, Registered], name: str) -> Registered:
        return next(x for x in resources.values() if x.name == name)

    # The API endpoint: the old haproxy.cfg plus one listen block, and one more port.
    cfg = "/usr/local/etc/haproxy/haproxy.cfg"
    old_cfg = _upload(by_name(before, API_ENDPOINT), cfg)
    new_cfg = _upload(by_name(after, API_ENDPOINT), cfg)
    added_lines = [line[1:] for line in difflib.ndiff(old_cfg.splitlines(),
                                                       new_cfg.splitlines())
                   if line.startswith("+ ")]
    removed_lines = [line for line in difflib.ndiff(old_cfg.splitlines(),
                                                    new_cfg.splitlines())
                     if line.startswith("- ")]
    assert removed_lines == []
    assert " listen glance2-api" in added_lines and "     bind 0.0.0.0:9393" in added_lines
    old_ports = by_name(before, API_ENDPOINT).inputs["ports"]
    new_ports = by_name(after, API_ENDPOINT).inputs["ports"]
    assert [p for p in new_ports if p not in old_ports] == [
        {"internal": 9393, "external": 9393, "ip": "127.0.0.1"}]
    assert all(p in new_ports for p in old_ports)
    # config.ini: only NDB's dictionary limits move (the new database's tables).
    ini = "/etc/mysql-cluster.cnf"
    diff = [line for line in difflib.ndiff(_upload(by_name(before, CONFIG_INI), ini).splitlines(),
                                           _upload(by_name(after, CONFIG_INI), ini).splitlines())
            if line.startswith(("+ ", "- "))]
    assert diff and all(line[2:].startswith("MaxNoOf") for line in diff), diff


def test_the_new_service_is_deployed_like_any_other(with_made_up_service: Run) -> None:
    r = with_made_up_service
    api = r.by_name("openstack-glance2-api-1")
    # its slot's block, after the bootstrap's address
    assert api.inputs["networksAdvanced"][0]["ipv4Address"] == \
        f"172.28.0.{service_block(NEXT_SLOT).offset(1)}"
    files = {u["file"] for u in uploads(api)}
    assert "/var/lib/kolla/config_files/glance-api.conf" in files
    assert "/var/lib/kolla/config_files/secrets.conf" in files
    endpoint = r.by_name("openstack-glance2-endpoint-public")
    assert endpoint.inputs["url"] == "http://127.0.0.1:9393"
    assert r.outputs["services"]["glance2"] == {"api": "http://127.0.0.1:9393"}


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_KEY) == SECRET_SIG


def _generated(r: Run) -> list[str]:
    """Every generated secret's mock value (RandomPassword results; RandomBytes keys)."""
    values = [mock_password(x.name, x.inputs.get("length")) for x in r.resources
              if x.type == "random:index/randomPassword:RandomPassword"]
    return [*values, "bW9jay1rZXkt", "bW9jay1rZXktbW9jay1rZXktbW9jay1rZXktbW9jay0-_w=="]


# The exporters read their password only together with their other settings: mysqld_exporter
# 0.14 from its option file with user, host and port (no flag names the server before 0.15),
# sql_exporter from its one configuration file, inside the connection string
# (docs/monitoring.md, "The account").
MIXED_SECRET_FILES = {MYSQLD_EXPORTER_CNF_PATH, NDBINFO_EXPORTER_CONFIG_PATH}


@pytest.mark.parametrize("stack", STACKS)
def test_no_config_file_is_secret_unless_it_holds_only_secrets(stack: str) -> None:
    r = run(stack)
    secrets = _generated(r)
    plain_files = secret_files = 0
    for container in r.of_type(CONTAINER):
        for upload in container.raw_inputs.get("uploads") or []:
            content = upload["content"]
            if not _is_secret(content):
                plain_files += 1
                assert not [s for s in secrets if s in content], (container.name, upload["file"])
                continue
            secret_files += 1
            if upload["file"] in MIXED_SECRET_FILES:
                continue
            text = content["value"]
            lines = [line for line in text.splitlines()
                     if line.strip() and not line.startswith(("#", "["))]
            assert lines, (container.name, upload["file"])
            for line in lines:  # every option, or the whole file, is a generated secret
                assert any(s in line for s in secrets), (container.name, upload["file"], line)
    assert plain_files > secret_files > 0


def test_a_plain_config_change_shows_in_a_diff() -> None:
    """The reviewable part: nova.conf is plain text in the container's inputs."""
    r = run("dev")
    conductor = r.by_name("openstack-nova-conductor-1")
    conf = next(u for u in conductor.raw_inputs["uploads"]
                if u["file"] == "/var/lib/kolla/config_files/nova.conf")
    assert isinstance(conf["content"], str) and "[keystone_authtoken]" in conf["content"]


def test_catalog_path_is_read_when_called(tmp_path: Path) -> None:
    """The fixture above swaps the catalog file; that only works if nothing caches the
    default path at import."""
    copy = tmp_path / "c.yaml"
    copy.write_text(config.catalog.CATALOG.read_text())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(config.catalog, "CATALOG", copy)
        assert config.catalog.load_catalog() is not config.catalog.load_catalog(
            Path(config.catalog.__file__).with_name("catalog.yaml"))
