"""A user's first hour on the running dev cloud (issue 10, item 3): the `openstack` CLI
(python-openstackclient from PyPI, with heat's plugin) with the rendered openrc sourced, as
`make openrc && source openrc-dev` gives it, through the rendered API HAProxy.

Registration first: what keystone holds for every service is the program's own description
(components/render/registration.py), which the harness registered through openstacksdk and
from which the program makes its pulumi-openstack resources (tests/mocks/test_openstack.py
checks that side).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

import pytest

from config.openstack_layout import RABBITMQ_VHOST
from tests.openstack.cloud import Cloud
from tests.openstack.openstack_cli import Cli
from tests.openstack.stand_ins import COMPUTE_HOST

# A heat template with no server: OS::Heat::RandomString needs heat alone.
TEMPLATE = """\
heat_template_version: 2021-04-16
description: first hour
resources:
  secret:
    type: OS::Heat::RandomString
    properties: {length: 16}
outputs:
  length:
    value: {get_attr: [secret, value]}
"""


@pytest.fixture(scope="module")
def cli(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    return Cli(cloud.openrc(), tmp_path_factory.mktemp("first-hour"))


def test_keystone_holds_what_the_program_registers(cloud: Cloud) -> None:
    registering = {n: a for n, a in cloud.artifacts.items() if a.registration is not None}
    assert {"glance", "nova", "neutron", "heat", "cinder", "placement"} <= set(registering)
    for name, artifacts in registering.items():
        assert artifacts.registration is not None
        described = json.loads(cloud.localise(json.dumps(artifacts.registration.as_json())))
        assert cloud.registrar("show", artifacts) == described, name


def test_catalog_list_names_every_registered_service(cloud: Cloud, cli: Cli) -> None:
    listed = {entry["Type"]: entry for entry in cli.json("catalog", "list")}
    expected = {a.registration.type for a in cloud.artifacts.values() if a.registration}
    assert expected | {"identity"} <= set(listed), listed
    public = cloud.localise(cloud.layout.registered_url("nova", "public"))
    assert public in str(listed["compute"]["Endpoints"])


def test_image_create_then_save_returns_the_same_bytes(cli: Cli) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # several chunks, not a round size
    (cli.folder / "image.raw").write_bytes(data)
    image = cli.json("image", "create", "--disk-format", "raw", "--container-format", "bare",
                     "--file", "image.raw", "first-hour-image")
    shown = cli.json("image", "show", image["id"])
    assert (shown["status"], shown["size"]) == ("active", len(data))
    cli.run("image", "save", "--file", "saved.raw", image["id"])
    assert (cli.folder / "saved.raw").read_bytes() == data


def test_network_subnet_and_router_create(cli: Cli) -> None:
    network = cli.json("network", "create", "first-hour-net")
    subnet = cli.json("subnet", "create", "--network", network["id"], "--subnet-range",
                      "192.0.2.0/24", "first-hour-subnet")
    assert subnet["cidr"] == "192.0.2.0/24" and subnet["network_id"] == network["id"]
    router = cli.json("router", "create", "first-hour-router")
    assert router["name"] == "first-hour-router"
    cli.run("router", "add", "subnet", router["id"], subnet["id"])
    ports = cli.json("port", "list", "--router", router["id"])
    assert [p for p in ports if "192.0.2.1" in str(p["Fixed IP Addresses"])], ports


def test_flavor_keypair_and_volume_type_create(cli: Cli) -> None:
    flavor = cli.json("flavor", "create", "--ram", "512", "--disk", "1", "--vcpus", "1",
                      "first-hour-flavor")
    assert (flavor["ram"], flavor["vcpus"]) == (512, 1)
    key = cli.json("keypair", "create", "--private-key", "first-hour.pem", "first-hour-key")
    assert key["fingerprint"] and (cli.folder / "first-hour.pem").stat().st_size > 0
    volume_type = cli.json("volume", "type", "create", "first-hour-type")
    assert volume_type["name"] == "first-hour-type"


def test_server_boots_with_a_bound_port_and_takes_a_volume(cli: Cli) -> None:
    """On the test-only compute host (tests/openstack/stand_ins.py: nova's fake driver,
    neutron's real Open vSwitch agent, cinder's fake volume driver): the scheduler places
    the server, neutron binds its port to the host through the agent, nova and cinder attach
    a volume to it."""
    server = cli.json("server", "create", "--flavor", "first-hour-flavor", "--image",
                      "first-hour-image", "--network", "first-hour-net", "--key-name",
                      "first-hour-key", "--wait", "first-hour-server")
    assert server["status"] == "ACTIVE", server.get("fault")
    assert server["OS-EXT-SRV-ATTR:host"] == COMPUTE_HOST
    ports = cli.json("port", "list", "--server", server["id"], "--long")
    assert len(ports) == 1, ports
    port = cli.json("port", "show", ports[0]["ID"])
    assert (port["binding_host_id"], port["binding_vif_type"]) == (COMPUTE_HOST, "ovs"), port
    volume = cli.json("volume", "create", "--size", "1", "first-hour-volume")
    _wait_for(lambda: cli.json("volume", "show", volume["id"])["status"], "available")
    cli.run("server", "add", "volume", server["id"], volume["id"])
    _wait_for(lambda: cli.json("volume", "show", volume["id"])["status"], "in-use")
    attached = cli.json("volume", "show", volume["id"])["attachments"]
    assert [a["server_id"] for a in attached] == [server["id"]], attached
    cli.run("server", "remove", "volume", server["id"], volume["id"])
    _wait_for(lambda: cli.json("volume", "show", volume["id"])["status"], "available")
    cli.run("server", "delete", "--wait", server["id"])
    cli.run("volume", "delete", volume["id"])


def _wait_for(status: Callable[[], str], wanted: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    seen = status()
    while seen != wanted and "error" not in seen and time.monotonic() < deadline:
        time.sleep(2)
        seen = status()
    assert seen == wanted, f"status {seen!r}, waited for {wanted!r}"


def test_stack_create_reaches_create_complete(cli: Cli) -> None:
    (cli.folder / "stack.yaml").write_text(TEMPLATE)
    cli.run("stack", "create", "--wait", "-t", "stack.yaml", "first-hour-stack",
            "-f", "json")
    stack = cli.json("stack", "show", "first-hour-stack")
    assert stack["stack_status"] == "CREATE_COMPLETE", stack.get("stack_status_reason")
    value = cli.run("stack", "output", "show", "first-hour-stack", "length", "-c",
                    "output_value", "-f", "value").stdout.strip()
    assert len(value) == 16


def _up(rows: list[dict[str, Any]], binary_key: str, binary: str) -> list[dict[str, Any]]:
    return [r for r in rows if r[binary_key] == binary
            and str(r.get("State", r.get("Status"))).lower() == "up"]


def test_service_lists_show_the_workers_up(cli: Cli) -> None:
    # A service is up once its report is recent; cinder-scheduler's first periodic report
    # came 90 s after it started here.
    deadline = time.monotonic() + 180
    while True:
        compute = cli.json("compute", "service", "list")
        volume = cli.json("volume", "service", "list")
        engines = cli.json("orchestration", "service", "list")
        ready = (_up(compute, "Binary", "nova-conductor") and _up(compute, "Binary",
                                                                   "nova-scheduler")
                 and _up(volume, "Binary", "cinder-scheduler")
                 and [e for e in engines if e["Status"] == "up"])
        if ready or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert _up(compute, "Binary", "nova-conductor"), compute
    assert _up(compute, "Binary", "nova-scheduler"), compute
    assert _up(volume, "Binary", "cinder-scheduler"), volume
    assert _up(compute, "Binary", "nova-compute"), compute  # the test-only ones
    assert _up(volume, "Binary", "cinder-volume"), volume
    assert [e for e in engines if e["Status"] == "up"], engines
    # No agent runs in the control plane (the OVS agents live on compute and network
    # nodes): the one listed is the test-only compute host's, alive.
    agents = cli.json("network", "agent", "list")
    assert [(a["Agent Type"], a["Host"], a["Alive"]) for a in agents] == [
        ("Open vSwitch agent", COMPUTE_HOST, True)], agents


def test_each_process_waits_on_a_reply_queue_of_its_own(cloud: Cloud, cli: Cli) -> None:
    """RPC replies reach the process that called: no reply queue has two consumers. With
    use_queue_manager the queues are named <host>:<processname>:<n>, n counted per service
    generation in /dev/shm; two processes given the same n take each other's replies (a
    MessagingTimeout after 60 s, a 500 on `stack event list`). Calls through both of
    heat-api's uWSGI workers first: each names its reply queue at its first call."""
    for _ in range(4):
        cli.json("stack", "list")
        cli.json("orchestration", "service", "list")
    queues = json.loads(cloud.rabbitmqctl("list_queues", "--vhost", RABBITMQ_VHOST,
                                          "--formatter", "json", "--quiet", "name",
                                          "consumers"))
    replies = {q["name"]: q["consumers"] for q in queues if q["name"].startswith("reply_")}
    heat_api = next(c.container_name for c in cloud.layout.service("heat").containers
                    if c.role == "api")
    assert any(name.startswith(f"reply_{heat_api}:heat-api:") for name in replies), replies
    shared = {name: consumers for name, consumers in replies.items() if consumers > 1}
    assert not shared, f"reply queues with more than one consumer: {shared}"
