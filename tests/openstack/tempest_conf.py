"""tempest.conf for the harness's control plane, from the stack's settings and layout.

One template for both arms of `make tempest` (tests/openstack/tempest_run.py): what differs
between arms is the database only, which tempest never sees. What it holds:

- auth through the published keystone URL (`layout.identity_url("public")`, as users reach
  it through the API HAProxy), as the stack's admin (`openstack.adminUser`, its project, the
  Default domain that `keystone-manage bootstrap` puts them in), with dynamic credentials:
  tempest makes a project and user per test class, as devstack's gate runs it;
- `[service_available]` from the enabled catalog services (swift is never in the catalog);
- no guests: `[validation] run_validation = false`, so no SSH, floating IP or key pair;
- `[compute]` from what `compute_resources` made (tests/openstack/tempest_run.py): images,
  flavors and a shared network for the test-only compute host (nova's fake driver);
- no cinder-backup (`[volume-feature-enabled] backup = false`): the catalog has none;
- every service enforces scope and the new defaults: oslo.policy 6 (the 2026.2 services'
  release) has no `enforce_scope` option left, and `enforce_new_defaults` defaults to true;
- heat-tempest-plugin's `[heat_plugin]`: its user is a demo user with the member role on a
  project of its own (`DemoUser`, made as devstack makes `demo`), its admin the stack's admin;
  without a demo user, the admin is both.

The admin password goes in the file, so it is a test artifact written with mode 0600
(`write`), never printed.
"""

from __future__ import annotations

import configparser
import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from config import Settings
from config.openstack_layout import ControlPlaneLayout

# tempest's [service_available] flags by catalog service; keystone and placement have none.
SERVICE_FLAGS = {"glance": "glance", "nova": "nova", "neutron": "neutron",
                 "cinder": "cinder", "heat": "heat", "horizon": "horizon"}
# tempest's [enforce_scope] flags by catalog service.
SCOPE_FLAGS = {"keystone": "keystone", "glance": "glance", "placement": "placement",
               "nova": "nova", "neutron": "neutron", "cinder": "cinder"}
ADMIN_DOMAIN = "Default"  # where keystone-manage bootstrap makes the admin and its project


@dataclass(frozen=True)
class ComputeResources:
    """What the compute tests boot from and on (ids; the network by name)."""

    image: str
    image_alt: str
    flavor: str
    flavor_alt: str
    network: str


@dataclass(frozen=True)
class DemoUser:
    """A non-admin user (member of its own project, in the admin's domain)."""

    name: str
    password: str
    project: str


@dataclass(frozen=True)
class TempestPaths:
    """Where tempest writes, inside its workspace."""

    log_dir: Path
    lock_path: Path


def render(settings: Settings, layout: ControlPlaneLayout, admin_password: str,
           paths: TempestPaths, localise: Callable[[str], str] = lambda text: text,
           *, network_extensions: Sequence[str] = (),
           compute: ComputeResources | None = None, demo: DemoUser | None = None) -> str:
    """tempest.conf's text. `localise` turns a rendered address into where this machine
    serves it (the harness's Cloud.localise). `network_extensions`: the aliases neutron
    lists (GET /v2.0/extensions), as devstack writes them; tempest's default, "all",
    would run the tests of extensions no plugin loads, on both arms alike."""
    os_s = settings.openstack
    enabled = set(layout.enabled)
    auth_url = localise(layout.identity_url("public"))
    conf = configparser.ConfigParser(interpolation=None)
    conf.optionxform = str  # type: ignore[assignment,method-assign]  # keep option case
    conf["DEFAULT"] = {"log_dir": str(paths.log_dir), "log_file": "tempest.log",
                       "use_stderr": "false"}
    conf["oslo_concurrency"] = {"lock_path": str(paths.lock_path)}
    conf["auth"] = {
        "use_dynamic_credentials": "true",
        "admin_username": os_s.admin_user,
        "admin_password": admin_password,
        "admin_project_name": os_s.admin_project,
        "admin_domain_name": ADMIN_DOMAIN,
        "admin_system": "all",  # a system-scoped admin for the identity admin APIs
        # Tempest's own networks per credential need routers with an external network and
        # an L3 agent; the network tests make what they test themselves.
        "create_isolated_networks": "false",
    }
    conf["identity"] = {
        "uri_v3": auth_url,
        "auth_version": "v3",
        "region": os_s.region,
        "v3_endpoint_type": "public",
        # Not admin_domain_scope: keystone 30's admin rules take system or project scope
        # only, and a domain-scoped admin got 403 on 37 of 138 identity tests.
    }
    conf["identity-feature-enabled"] = {
        "api_v2": "false",
        "api_v3": "true",
        "security_compliance": "false",  # not rendered in keystone.conf
        "project_tags": "true",
        "application_credentials": "true",
        "access_rules": "true",
    }
    conf["service_available"] = {
        flag: str(service in enabled).lower() for service, flag in SERVICE_FLAGS.items()
    } | {"swift": "false"}
    conf["enforce_scope"] = {
        flag: str(service in enabled).lower() for service, flag in SCOPE_FLAGS.items()
    }
    conf["validation"] = {"run_validation": "false"}
    conf["compute-feature-enabled"] = {"console_output": "false", "vnc_console": "false",
                                       "snapshot": "false"}
    if compute is not None:  # the test-only compute host (tests/openstack/stand_ins.py)
        conf["compute"] = {"image_ref": compute.image, "image_ref_alt": compute.image_alt,
                           "flavor_ref": compute.flavor, "flavor_ref_alt": compute.flavor_alt,
                           "fixed_network_name": compute.network, "min_compute_nodes": "1"}
    # No cinder-backup in the catalog (tempest assumes one).
    conf["volume-feature-enabled"] = {"backup": "false"}
    if "cinder" in enabled:
        # The type cinder is registered as (tempest's default is block-storage).
        registration = layout.service("cinder").spec.keystone
        if registration is not None:
            conf["volume"] = {"catalog_type": registration.type}
    conf["network"] = {"project_network_cidr": "10.100.0.0/16", "floating_network_name": ""}
    if network_extensions:
        conf["network-feature-enabled"] = {
            "api_extensions": ",".join(sorted(network_extensions))}
    conf["heat_plugin"] = {
        "auth_url": auth_url,
        "auth_version": "3",
        "region": os_s.region,
        "username": demo.name if demo else os_s.admin_user,
        "password": demo.password if demo else admin_password,
        "project_name": demo.project if demo else os_s.admin_project,
        "admin_username": os_s.admin_user,
        "admin_password": admin_password,
        "admin_project_name": os_s.admin_project,
        "user_domain_name": ADMIN_DOMAIN,
        "project_domain_name": ADMIN_DOMAIN,
        # No guests, no Swift, no cfn API: only the plugin's API (gabbi) tests can pass.
        "skip_scenario_tests": "true",
        "skip_functional_tests": "true",
    }
    out = io.StringIO()
    conf.write(out)
    return out.getvalue()


def write(path: Path, text: str) -> Path:
    """tempest.conf with mode 0600 from the first byte: it holds the admin password."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    path.chmod(0o600)  # an existing file keeps its mode through O_CREAT
    return path
