"""Create OpenStack objects through the APIs, for the DataMemory measurement (sizing.py).

Runs in the openstack CLI's venv (openstacksdk 4.22, `make openstack-venvs`), not the
project's: ``python sizing_objects.py <cloud> setup`` once, then ``python sizing_objects.py
<cloud> create <kind> <count> <first>`` per kind and round, ``cleanup`` at the end if the
cloud is shared. The cloud's credentials come
from a clouds.yaml (mode 0600) named by OS_CLIENT_CONFIG_FILE: none is in an argument or in
the environment. Prints one JSON line: what was created, in how many seconds.

Every object goes through the public APIs as a user's would, so every row the services write
for it (nova's actions and events, neutron's bindings and IP allocations, placement's
allocations, heat's events, ...) is written by the services themselves.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openstack  # type: ignore[import-not-found]

PREFIX = "sizing"
THREADS = 4
WAIT_S = 600
TEMPLATE = {
    "heat_template_version": "2021-04-16",
    "resources": {"secret": {"type": "OS::Heat::RandomString", "properties": {"length": 16}}},
    "outputs": {"value": {"value": {"get_attr": ["secret", "value"]}}},
}


def connect(cloud: str) -> Any:
    return openstack.connect(cloud=cloud)


def setup(conn: Any) -> dict[str, Any]:
    """Quotas unlimited for the admin project; one flavor, one image, one network with a
    subnet, one security group, one flavor no host can take (for the failed boots)."""
    project = conn.current_project_id
    conn.compute.update_quota_set(project, instances=-1, cores=-1, ram=-1)
    conn.network.update_quota(project, ports=-1, networks=-1, subnets=-1,
                              security_group_rules=-1, security_groups=-1)
    conn.block_storage.update_quota_set(project, volumes=-1, gigabytes=-1)
    conn.compute.create_flavor(name=f"{PREFIX}-tiny", ram=64, vcpus=1, disk=0)
    conn.compute.create_flavor(name=f"{PREFIX}-huge", ram=64 * 1024 * 1024, vcpus=1, disk=0)
    image = conn.image.create_image(name=f"{PREFIX}-boot", disk_format="raw",
                                    container_format="bare", data=b"\0" * 1024)
    net = conn.network.create_network(name=f"{PREFIX}-net")
    conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.64.0.0/16",
                               name=f"{PREFIX}-subnet")
    group = conn.network.create_security_group(name=f"{PREFIX}-rules")
    return {"image": image.id, "network": net.id, "security_group": group.id}


def _wait_server(conn: Any, server: Any, status: str) -> None:
    conn.compute.wait_for_server(server, status=status, failures=["ERROR"] if status != "ERROR"
                                 else [], interval=2, wait=WAIT_S)


def instance(conn: Any, i: int) -> None:
    flavor = conn.compute.find_flavor(f"{PREFIX}-tiny")
    image = conn.image.find_image(f"{PREFIX}-boot")
    net = conn.network.find_network(f"{PREFIX}-net")
    server = conn.compute.create_server(name=f"{PREFIX}-vm-{i}", flavor_id=flavor.id,
                                        image_id=image.id, networks=[{"uuid": net.id}])
    _wait_server(conn, server, "ACTIVE")


def failed_instance(conn: Any, i: int) -> None:
    """A boot no host can take: NoValidHost, the instance buried in cell0 with its fault."""
    flavor = conn.compute.find_flavor(f"{PREFIX}-huge")
    image = conn.image.find_image(f"{PREFIX}-boot")
    server = conn.compute.create_server(name=f"{PREFIX}-failed-{i}", flavor_id=flavor.id,
                                        image_id=image.id, networks="none")
    _wait_server(conn, server, "ERROR")


def port(conn: Any, i: int) -> None:
    net = conn.network.find_network(f"{PREFIX}-net")
    conn.network.create_port(network_id=net.id, name=f"{PREFIX}-port-{i}")


def network(conn: Any, i: int) -> None:
    """A network with one subnet (a network alone carries no address)."""
    net = conn.network.create_network(name=f"{PREFIX}-net-{i}")
    conn.network.create_subnet(network_id=net.id, ip_version=4, name=f"{PREFIX}-subnet-{i}",
                               cidr=f"10.{128 + i // 256}.{i % 256}.0/24")


def security_group_rule(conn: Any, i: int) -> None:
    group = conn.network.find_security_group(f"{PREFIX}-rules")
    conn.network.create_security_group_rule(
        security_group_id=group.id, direction="ingress", ethertype="IPv4", protocol="tcp",
        port_range_min=1000 + i, port_range_max=1000 + i, remote_ip_prefix="192.0.2.0/24")


def image(conn: Any, i: int) -> None:
    conn.image.create_image(name=f"{PREFIX}-image-{i}", disk_format="raw",
                            container_format="bare", data=b"\1" * 1024)


def volume(conn: Any, i: int) -> None:
    created = conn.block_storage.create_volume(name=f"{PREFIX}-volume-{i}", size=1)
    conn.block_storage.wait_for_status(created, status="available", failures=["error"],
                                       interval=2, wait=WAIT_S)


def stack(conn: Any, i: int) -> None:
    conn.orchestration.create_stack(name=f"{PREFIX}-stack-{i}", template=TEMPLATE)
    deadline = time.monotonic() + WAIT_S
    while True:
        found = conn.orchestration.find_stack(f"{PREFIX}-stack-{i}")
        if found.status == "CREATE_COMPLETE":
            return
        if found.status.endswith("FAILED") or time.monotonic() > deadline:
            raise RuntimeError(f"stack {i}: {found.status} {found.status_reason}")
        time.sleep(2)


def token(conn: Any, i: int) -> None:
    """A token issued (fernet: keystone writes no row for it)."""
    assert conn.authorize()


def token_revocation(conn: Any, i: int) -> None:
    """A token issued, then revoked: keystone records a revocation event."""
    subject = conn.authorize()
    other = conn.identity.get("/auth/tokens", headers={"X-Subject-Token": subject})
    assert other.status_code == 200, other.text
    done = conn.identity.delete("/auth/tokens", headers={"X-Subject-Token": subject})
    assert done.status_code == 204, done.text


KINDS: dict[str, Callable[[Any, int], None]] = {
    "instance": instance, "failed_instance": failed_instance, "port": port,
    "network": network, "security_group_rule": security_group_rule, "image": image,
    "volume": volume, "stack": stack, "token": token, "token_revocation": token_revocation,
}


def create(cloud: str, kind: str, count: int, first: int) -> None:
    make = KINDS[kind]

    def one(i: int) -> None:
        make(connect(cloud), i)

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(one, range(first, first + count)))  # re-raises the first failure


def _named(items: Any) -> list[Any]:
    return [i for i in items if (i.name or "").startswith(f"{PREFIX}-")]


def cleanup(conn: Any) -> dict[str, Any]:
    """Delete what setup and create made (named sizing-*), for a cloud other tests share:
    nova, cinder, glance and heat keep their rows soft-deleted until purged."""
    for stack_ in _named(conn.orchestration.stacks()):
        conn.orchestration.delete_stack(stack_)
    servers = _named(conn.compute.servers())
    for server in servers:
        conn.compute.delete_server(server)
    for server in servers:
        conn.compute.wait_for_delete(server, wait=WAIT_S)
    for volume_ in _named(conn.block_storage.volumes()):
        conn.block_storage.delete_volume(volume_)
    for image_ in _named(conn.image.images()):
        conn.image.delete_image(image_)
    for port_ in _named(conn.network.ports()):
        conn.network.delete_port(port_)
    for group in _named(conn.network.security_groups()):
        conn.network.delete_security_group(group)
    for net in _named(conn.network.networks()):
        for port_ in conn.network.ports(network_id=net.id):
            conn.network.delete_port(port_)
        conn.network.delete_network(net)
    for flavor in _named(conn.compute.flavors()):
        conn.compute.delete_flavor(flavor)
    return {"servers": len(servers)}


def main(argv: list[str]) -> int:
    cloud, command, *rest = argv
    began = time.monotonic()
    if command == "setup":
        out: dict[str, Any] = setup(connect(cloud))
    elif command == "cleanup":
        out = cleanup(connect(cloud))
    else:
        kind, count, first = rest[0], int(rest[1]), int(rest[2])
        create(cloud, kind, count, first)
        out = {"kind": kind, "count": count}
    out["seconds"] = round(time.monotonic() - began, 1)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
