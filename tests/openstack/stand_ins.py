"""Test-only stand-ins for what no machine here has - a hypervisor, a volume back end, a
compute host's switch - so that the running cloud can boot servers and attach volumes as
Tempest's compute and volume tests do. The program never ships them: it deploys the control
plane, and compute and storage hosts are the operator's.

Each is the upstream project's own fake, run as a harness container like the program's
(tests/openstack/cloud.py), from the rendered files of a container of its service and one
test-only file read after them (tests/openstack/stand_ins/):

- **nova-compute** with nova's `fake.FakeDriverWithoutFakeNodes` (devstack's gate, with
  VIRT_DRIVER=fake), from nova-conductor's nova.conf; its host is then mapped to the cell as
  Kolla-Ansible does (`nova-manage cell_v2 discover_hosts`, in a nova container).
- **cinder-volume** with cinder's `cinder.tests.fake_driver.FakeLoggingVolumeDriver`, from
  cinder-scheduler's cinder.conf.
- **neutron's real Open vSwitch agent** on the same compute host, for port binding through
  the rendered `openvswitch` mechanism driver, from neutron-rpc's neutron.conf, on Debian's
  Open vSwitch with the userspace (netdev) datapath (stand_ins/openvswitch.sh).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from string import Template

from components.render.kolla import KOLLA_CONFIG_DIR
from components.render.service import ContainerArtifacts, PlainFile

FOLDER = Path(__file__).parent / "stand_ins"
OPENVSWITCH_SCRIPT = FOLDER / "openvswitch.sh"
COMPUTE_HOST = "compute-1"  # nova-compute's and the agent's `host`: port binding matches it
# Rendered-form addresses outside every stack's subnet (the harness maps 172.29.0.x to
# 127.29.0.x like every other container's).
OPENVSWITCH_ADDRESS = "172.29.0.10"
OVSDB_PORT = 6640
RABBITMQ_PORT = "5672"


@dataclass(frozen=True)
class StandIn:
    """One stand-in container."""

    name: str  # its container name and host name
    service: str  # the service whose venv and rendered files it starts from
    borrows: str  # the role of the service's container whose rendered files it takes
    image: str  # the Kolla image it stands for
    user: str  # the image's USER
    command: str
    conf: str  # its test-only file under stand_ins/
    conf_dest: str  # where kolla_set_configs puts it: read after the rendered files
    address: str  # rendered form
    openvswitch: bool = False  # shares the compute host's /run/openvswitch

    @property
    def process(self) -> str:
        """Its program's name, as Kolla-Ansible's `healthcheck_port` check names it."""
        return self.command.split()[0]


STAND_INS = (
    StandIn("nova-compute-1", "nova", "conductor", "nova-compute", "nova", "nova-compute",
            "nova-compute.conf", "/etc/nova/nova.conf.d/stand-in.conf", "172.29.0.11"),
    StandIn("cinder-volume-1", "cinder", "scheduler", "cinder-volume", "cinder",
            "cinder-volume", "cinder-volume.conf", "/etc/cinder/cinder.conf.d/stand-in.conf",
            "172.29.0.12"),
    StandIn("neutron-openvswitch-agent-1", "neutron", "rpc", "neutron-openvswitch-agent",
            "root",
            "neutron-openvswitch-agent --config-file /etc/neutron/neutron.conf "
            "--config-file /etc/neutron/plugins/ml2/openvswitch_agent.ini",
            "openvswitch_agent.ini", "/etc/neutron/plugins/ml2/openvswitch_agent.ini",
            "172.29.0.13", openvswitch=True),
)


def stand_in_conf(stand_in: StandIn, loopback_address: str, ovsdb_address: str) -> str:
    """Its test-only file, with the compute host's name and the addresses filled in."""
    return Template((FOLDER / stand_in.conf).read_text()).substitute(
        compute_host=COMPUTE_HOST, address=loopback_address, ovsdb_address=ovsdb_address,
        ovsdb_port=OVSDB_PORT)


def stand_in_artifacts(stand_in: StandIn, borrowed: ContainerArtifacts, conf: str
                       ) -> ContainerArtifacts:
    """`borrowed` (a rendered container of the stand-in's service) made into the stand-in:
    its name, address, command and user (the owner of its files), its test-only file `conf`
    added to Kolla's config.json, Kolla-Ansible's process check for it. Raises ValueError
    if `borrowed` has no config.json."""
    config_path = f"{KOLLA_CONFIG_DIR}/config.json"
    files = {f.path: f for f in borrowed.files}
    if config_path not in files:
        raise ValueError(f"{borrowed.placed.name} has no {config_path}")
    config = json.loads(files[config_path].text)
    source = f"{KOLLA_CONFIG_DIR}/stand-in.conf"
    config["command"] = stand_in.command
    config["config_files"].append({"source": source, "dest": stand_in.conf_dest,
                                   "owner": stand_in.user, "perm": "0600"})
    # Its files are its user's (root's for the agent, which has no service user).
    for entry in config["config_files"]:
        entry["owner"] = stand_in.user
    for entry in config.get("permissions", []):
        entry["owner"] = f"{stand_in.user}:{stand_in.user}"
    files[config_path] = replace(files[config_path], text=json.dumps(config, indent=2))
    files[source] = PlainFile(source, conf)
    placed = replace(borrowed.placed, name=stand_in.name, container_name=stand_in.name,
                     address=stand_in.address)
    return replace(borrowed, placed=placed, role=stand_in.image, image=stand_in.image,
                   label=stand_in.image, files=tuple(files.values()),
                   healthcheck=("CMD", "healthcheck_port", stand_in.process, RABBITMQ_PORT))
