"""The test-only stand-ins (tests/openstack/stand_ins.py) are the rendered containers of
their service with a command, a name and one file of their own: nothing else moves."""

from __future__ import annotations

import configparser
import json

import pytest

from components.render.kolla import KOLLA_CONFIG_DIR
from components.render.service import render_service
from config import build_topology
from config.openstack_layout import build_layout
from tests.openstack.cluster import dev_settings
from tests.openstack.stand_ins import (
    COMPUTE_HOST,
    STAND_INS,
    StandIn,
    stand_in_artifacts,
    stand_in_conf,
)

CONFIG_JSON = f"{KOLLA_CONFIG_DIR}/config.json"


@pytest.mark.parametrize("stand_in", STAND_INS, ids=lambda s: s.name)
def test_stand_in_is_its_borrowed_container_plus_its_own_file(stand_in: StandIn) -> None:
    settings = dev_settings()
    layout = build_layout(settings)
    artifacts = render_service(settings, build_topology(settings), layout,
                               layout.service(stand_in.service))
    borrowed = next(a for a in artifacts.containers if a.role == stand_in.borrows)
    conf = stand_in_conf(stand_in, "127.29.0.99", "127.29.0.10")
    made = stand_in_artifacts(stand_in, borrowed, conf)

    assert made.placed.name == made.placed.container_name == stand_in.name
    assert made.healthcheck == ("CMD", "healthcheck_port", stand_in.process, "5672")
    config = json.loads({f.path: f.text for f in made.files}[CONFIG_JSON])
    before = json.loads({f.path: f.text for f in borrowed.files}[CONFIG_JSON])
    assert config["command"] == stand_in.command
    assert config["config_files"] == [*({**f, "owner": stand_in.user}
                                        for f in before["config_files"]), {
        "source": f"{KOLLA_CONFIG_DIR}/stand-in.conf", "dest": stand_in.conf_dest,
        "owner": stand_in.user, "perm": "0600"}]
    assert {p["owner"] for p in config["permissions"]} == {f"{stand_in.user}:{stand_in.user}"}
    # every other file is the rendered one, unchanged
    others = {f.path: f.text for f in made.files if f.path != CONFIG_JSON}
    assert others.pop(f"{KOLLA_CONFIG_DIR}/stand-in.conf") == conf
    assert others == {f.path: f.text for f in borrowed.files if f.path != CONFIG_JSON}
    assert made.secret_files == borrowed.secret_files and made.envs == borrowed.envs

    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(conf)
    # its own queue names: reply queues are named after the process
    assert parser.get("oslo_messaging_rabbit", "processname") == stand_in.process
    if stand_in.service in ("nova", "neutron"):  # port binding matches the two hosts
        assert parser.get("DEFAULT", "host") == COMPUTE_HOST
    assert "$" not in conf
