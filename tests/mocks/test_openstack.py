"""The control plane under Pulumi mocks, with the real stack files: every enabled service with
its containers, in the order database -> migration -> NDB gate and keystone registration ->
containers, every connection through the SQL endpoint, and no password in plain text."""

from __future__ import annotations

from dataclasses import astuple
from typing import Any

import pytest

from components.render.openstack import SERVICE_USER_ROLES
from components.render.registration import (
    INTERFACES,
    Domain,
    Endpoint,
    ServiceRegistration,
    service_project,
    service_registration,
)
from config.openstack_layout import build_layout
from tests.mock_program import SECRET_SIG, Registered, Run
from tests.mocks.test_program import CONTAINER, run
from tests.stacks import STACKS, settings_for

SERVICE = "openstack-ndb:openstack:OpenStackService"
DATABASE = "pulumi-python:dynamic:Resource"
ENDPOINT = "openstack:identity/endpointV3:EndpointV3"
USER = "openstack:identity/user:User"
SECRET_KEY = "4dabf18193072939515e22adb298388d"
INTERFACE_ORDER = [interface for interface, _ in INTERFACES]


def unwrap(value: Any) -> Any:
    """A property's value; a list with one secret element arrives secret as a whole."""
    if isinstance(value, dict) and value.get(SECRET_KEY) == SECRET_SIG:
        return value["value"]
    return value


def uploads(container: Registered) -> list[dict[str, Any]]:
    return list(unwrap(container.inputs.get("uploads")) or [])


def children(r: Run, component: Registered, type_: str | None = None) -> list[Registered]:
    return [x for x in r.resources if x.parent == component.urn
            and (type_ is None or x.type == type_)]


@pytest.mark.parametrize("stack", STACKS)
def test_every_enabled_service_has_its_containers(stack: str) -> None:
    r = run(stack)
    layout = build_layout(settings_for(stack))
    components = {c.name: c for c in r.of_type(SERVICE)}
    assert set(components) == {f"openstack-{n}" for n in layout.enabled}
    for service in layout.services:
        containers = {c.inputs["name"]
                      for c in children(r, components[f"openstack-{service.name}"], CONTAINER)}
        expected = {c.container_name for c in service.containers}
        if service.bootstrap is not None:
            expected.add(service.bootstrap.container_name)
        assert containers == expected


@pytest.mark.parametrize("stack", STACKS)
def test_order_database_migration_gate_service_registration(stack: str) -> None:
    r = run(stack)
    for component in r.of_type(SERVICE):
        name = component.name
        containers = [c for c in children(r, component, CONTAINER)
                      if c.name != f"{name}-bootstrap"]
        registration = [x for x in children(r, component) if x.type.startswith("openstack:")]
        if name == "openstack-horizon":
            assert not [x for x in children(r, component) if x.type == DATABASE]
            continue
        database = r.by_name(f"{name}-database")
        bootstrap = r.by_name(f"{name}-bootstrap")
        gate = r.by_name(f"{name}-ndb-gate")
        assert r.depends_transitively(bootstrap, database)
        assert r.depends_transitively(gate, bootstrap)
        assert not r.depends_transitively(bootstrap, gate)
        for container in containers:
            assert r.depends_transitively(container, gate), container.name
        if name == "openstack-keystone":
            assert registration == []  # keystone-manage bootstrap registers keystone
            continue
        assert {x.type for x in registration} >= {USER, ENDPOINT}
        # the containers log in as the service's user when they start: registered first
        for item in registration:
            for container in containers:
                assert r.depends_transitively(container, item), (container.name, item.name)
                assert not r.depends_transitively(item, container), (item.name, container.name)


@pytest.mark.parametrize("stack", STACKS)
def test_services_wait_for_their_dependencies_and_the_cluster(stack: str) -> None:
    r = run(stack)
    endpoint = r.by_name("ndb-sql-endpoint-1")
    nova_db = r.by_name("openstack-nova-database")
    assert r.depends_transitively(nova_db, endpoint)
    # depends_on a component waits for its children: here, their containers
    for dependency in ("keystone-api-1", "glance-api-1", "placement-api-1", "neutron-server-1"):
        assert r.depends_transitively(nova_db, r.by_name(f"openstack-{dependency}"))
    assert not r.depends_transitively(r.by_name("openstack-glance-database"),
                                      r.by_name("openstack-nova-api-1"))
    for member in [x for x in r.of_type(CONTAINER) if "-infra-rabbitmq-" in x.name]:
        assert r.depends_transitively(r.by_name("openstack-keystone-bootstrap"), member)


def test_registration_uses_the_keystone_admin_provider_and_the_layout_urls() -> None:
    r = run("dev")
    endpoints = {x.name: x.inputs for x in r.of_type(ENDPOINT)}
    assert endpoints["openstack-nova-endpoint-public"]["url"] == "http://127.0.0.1:8774/v2.1"
    assert endpoints["openstack-nova-endpoint-internal"]["url"] == \
        "http://172.28.0.196:8774/v2.1"
    assert endpoints["openstack-glance-endpoint-admin"]["endpointRegion"] == "RegionOne"
    provider = r.by_name("openstack-keystone-admin")
    assert provider.inputs["authUrl"] == "http://127.0.0.1:5000/v3"


@pytest.mark.parametrize("stack", STACKS)
def test_migrations_run_with_the_adaptation_and_wait(stack: str) -> None:
    r = run(stack)
    for bootstrap in [x for x in r.of_type(CONTAINER) if x.name.endswith("-bootstrap")]:
        env = bootstrap.inputs["envs"]
        assert "OPENSTACK_NDB_ADAPT=1" in env and "KOLLA_CONFIG_STRATEGY=COPY_ALWAYS" in env
        assert bootstrap.inputs["attach"] is True and bootstrap.inputs["mustRun"] is False
        uploaded = {u["file"] for u in uploads(bootstrap)}
        assert "/opt/openstack-ndb/ndb_adapt/site/sitecustomize.py" in uploaded
    gates = [x for x in r.of_type("command:local:Command") if x.name.endswith("-ndb-gate")]
    assert len(gates) == len([x for x in build_layout(settings_for(stack)).services
                              if x.bootstrap is not None])
    for gate in gates:
        env = gate.inputs["environment"]
        assert not _is_secret(gate.raw_inputs["environment"])  # no password in it
        assert _is_secret(gate.raw_inputs["stdin"])  # the password travels on stdin
        assert unwrap(gate.inputs["stdin"]).startswith("mock-password-")
        bootstrap = r.by_name(gate.name.replace("-ndb-gate", "-bootstrap"))
        # the exit code the gate reads is the bootstrap container's own output
        assert bootstrap.urn in gate.property_dependencies["environment"]
        assert gate.property_dependencies["triggers"] == [bootstrap.urn]
        assert env["MIGRATION_CONTAINER"] == bootstrap.inputs["name"]
        assert env["NDB_FIT"].endswith("-m ndb_fit")
        assert f"{env['NDB_FIT_HOST']}:{env['NDB_FIT_PORT']}" == r.outputs["sqlEndpoint"]


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_KEY) == SECRET_SIG


def _plain(value: Any, needle: str, secret: bool = False) -> int:
    if isinstance(value, dict):
        inside = secret or value.get(SECRET_KEY) == SECRET_SIG
        return sum(_plain(v, needle, inside) for v in value.values())
    if isinstance(value, list):
        return sum(_plain(v, needle, secret) for v in value)
    return int(isinstance(value, str) and needle in value and not secret)


@pytest.mark.parametrize("stack", STACKS)
def test_no_generated_secret_in_plain_text(stack: str) -> None:
    r = run(stack)
    # Every generated password and key (RandomPassword results are mock-password-<name>,
    # RandomBytes the mock key) must only ever travel inside a secret.
    needles = ["mock-password-", "bW9jay1rZXkt", "mock-key-"]
    for res in r.resources:
        if res.type.startswith("random:"):
            continue
        for needle in needles:
            assert _plain(res.raw_inputs, needle) == 0, (res.name, needle)
    files = [u for c in r.of_type(CONTAINER) if c.name.startswith("openstack-nova-")
             for u in uploads(c)]
    conf = [unwrap(u["content"]) for u in files if u["file"].endswith("/secrets.conf")]
    assert conf and all("mock-password-openstack-nova-db-password" in c for c in conf)
    assert r.outputs["openrc"].count("mock-password-openstack-admin-password") == 1


def test_every_service_user_is_admin_and_service_on_the_service_project() -> None:
    r = run("dev")
    users = [x for x in r.resources if x.name.endswith("-keystone-user")]
    registering = [s.name for s in build_layout(settings_for("dev")).services
                   if s.spec.keystone is not None and s.name != "keystone"]
    assert "nova" in registering
    assert {u.name for u in users} == {f"openstack-{s}-keystone-user" for s in registering}
    for user in users:
        prefix = user.name.removesuffix("-keystone-user")
        grants = {r.by_name(f"{prefix}-keystone-role").inputs["roleId"],
                  r.by_name(f"{prefix}-keystone-role-service").inputs["roleId"]}
        assert grants == {"role-admin", "role-service"}, prefix
        assert all("projectId" in r.by_name(n).inputs
                   for n in (f"{prefix}-keystone-role", f"{prefix}-keystone-role-service"))


def test_heat_owns_a_domain_for_its_stack_users() -> None:
    r = run("dev")
    domain = r.by_name("openstack-heat-domain")
    assert domain.inputs["isDomain"] is True and domain.inputs["name"] == "heat"
    admin = r.by_name("openstack-heat-domain-admin")
    assert admin.inputs["name"] == "heat_domain_admin"
    password = "mock-password-openstack-heat-domain-admin-password"
    assert unwrap(admin.inputs["password"]) == password
    assert _plain(admin.raw_inputs, "mock-password-") == 0  # a secret in the request
    grant = r.by_name("openstack-heat-domain-admin-role")
    assert grant.inputs["roleId"] == "role-admin" and "domainId" in grant.inputs
    assert {r.by_name(f"openstack-heat-role-{n}").inputs["name"]
            for n in ("heat_stack_owner", "heat_stack_user")} == {"heat_stack_owner",
                                                                  "heat_stack_user"}
    files = {u["file"]: unwrap(u["content"]) for u in uploads(r.by_name("openstack-heat-engine-1"))}
    conf = files["/var/lib/kolla/config_files/heat.conf"]
    assert "stack_domain_admin = heat_domain_admin" in conf and password not in conf
    secret = files["/var/lib/kolla/config_files/secrets.conf"]
    assert f"stack_domain_admin_password = {password}" in secret
    for other in ("openstack-nova-domain", "openstack-keystone-domain"):
        assert not [x for x in r.resources if x.name == other]


@pytest.mark.parametrize("stack", STACKS)
def test_keystone_resources_are_the_shared_registration_description(stack: str) -> None:
    """What pulumi-openstack would register is exactly the description the tests register
    through openstacksdk (components/render/registration.py): read back from the resources."""
    r = run(stack)
    settings = settings_for(stack)
    layout = build_layout(settings)
    described: dict[str, ServiceRegistration] = {}
    for s in layout.services:
        registration = service_registration(settings, layout, s)
        if registration is not None:
            described[s.name] = registration
    assert all(list(v.domain.roles) == sorted(v.domain.roles)
               for v in described.values() if v.domain is not None)
    project = r.by_name("openstack-service-project").inputs
    assert (project["name"], project["domainId"], project["description"]) == \
        astuple(service_project())
    seen: dict[str, ServiceRegistration] = {}
    for name in {x.name.removeprefix("openstack-").removesuffix("-keystone-user")
                 for x in r.of_type(USER) if x.name.endswith("-keystone-user")}:
        prefix = f"openstack-{name}"
        user = r.by_name(f"{prefix}-keystone-user").inputs
        service = r.by_name(f"{prefix}-keystone-service").inputs
        grants = [x for x in r.resources if x.name.startswith(f"{prefix}-keystone-role")]
        # Resources register concurrently: lists are compared in the description's order.
        endpoints = tuple(sorted((Endpoint(e.inputs["interface"], e.inputs["url"],
                                           e.inputs["endpointRegion"])
                                  for e in r.of_type(ENDPOINT) if e.name.startswith(f"{prefix}-")),
                                 key=lambda e: INTERFACE_ORDER.index(e.interface)))
        domain = None
        if [x for x in r.resources if x.name == f"{prefix}-domain"]:
            d = r.by_name(f"{prefix}-domain").inputs
            roles = tuple(sorted(x.inputs["name"] for x in r.resources
                                 if x.name.startswith(f"{prefix}-role-")))
            grant = r.by_name(f"{prefix}-domain-admin-role").inputs["roleId"]
            domain = Domain(d["name"], d["description"],
                            r.by_name(f"{prefix}-domain-admin").inputs["name"],
                            grant.removeprefix("role-"), roles)
        seen[name] = ServiceRegistration(
            name=user["name"], type=service["type"], description=service["description"],
            user_domain_id=user["domainId"], project=service_project(),
            project_roles=tuple(sorted((g.inputs["roleId"].removeprefix("role-") for g in grants),
                                       key=SERVICE_USER_ROLES.index)),
            endpoints=endpoints, domain=domain)
    assert seen == described


def test_horizon_gets_a_generated_secret_key_as_a_file_of_its_own() -> None:
    """Django's SECRET_KEY: generated once (RandomPassword, kept in state), uploaded alone
    and secret; the settings snippet only names the file. No other service gets one."""
    r = run("dev")
    keys = [x.name for x in r.resources if x.name.endswith("-secret-key")
            and x.type == "random:index/randomPassword:RandomPassword"]
    assert keys == ["openstack-horizon-secret-key"]
    assert r.by_name("openstack-horizon-secret-key").inputs["length"] == 64
    dashboard = r.by_name("openstack-horizon-dashboard-1")
    files = {u["file"]: u["content"] for u in dashboard.raw_inputs["uploads"]}
    secret = files["/var/lib/kolla/config_files/secret-key"]
    assert _is_secret(secret) and secret["value"] == "mock-password-openstack-horizon-secret-key"
    snippet = files["/var/lib/kolla/config_files/_9998-kolla-settings.py"]
    assert isinstance(snippet, str) and 'open("/etc/horizon/secret-key"' in snippet


@pytest.mark.parametrize(("charset", "collation"), [(None, "utf8mb3_general_ci"),
                                                    ("utf8mb4", "utf8mb4_general_ci")])
def test_service_databases_take_the_charset_setting(charset: str | None, collation: str
                                                    ) -> None:
    """openstack.databaseCharset reaches every service's database resource (CREATE DATABASE
    ... CHARACTER SET); unset, the databases stay utf8mb3 as before."""
    from tests.mock_program import run_program, stack_config

    config = stack_config("dev")
    if charset is not None:
        config["openstack-ndb:openstack"] = {**config["openstack-ndb:openstack"],
                                             "databaseCharset": charset}
    r = run_program(config, "dev")
    databases = [x for x in r.resources if x.type == DATABASE and x.name.endswith("-database")]
    assert len(databases) >= 7
    for database in databases:
        assert (database.inputs["charset"], database.inputs["collation"]) == (
            charset or "utf8mb3", collation), database.name


@pytest.mark.parametrize(("stack", "members"), [("dev", 1), ("prod", 3)])
def test_rabbitmq_members_share_a_secret_cookie_file_and_come_up_one_at_a_time(
    stack: str, members: int
) -> None:
    r = run(stack)
    layout = build_layout(settings_for(stack))
    rabbits = [r.by_name(f"openstack-infra-rabbitmq-{i}") for i in range(1, members + 1)]
    assert not [x for x in r.of_type(CONTAINER)
                if "-infra-rabbitmq-" in x.name and x not in rabbits]
    memcached = [x for x in r.of_type(CONTAINER) if "-infra-memcached-" in x.name]
    assert sorted(x.name for x in memcached) == [f"openstack-infra-memcached-{i}"
                                                 for i in range(1, members + 1)]
    cookie = "mock-password-openstack-infra-erlang-cookie"
    assert r.by_name("openstack-infra-erlang-cookie").inputs["special"] is False
    for i, (member, placed) in enumerate(zip(rabbits, layout.rabbitmq, strict=True)):
        files = {u["file"]: u for u in uploads(member)}
        upload = files["/var/lib/rabbitmq/.erlang.cookie"]
        assert unwrap(upload["content"]) == cookie and upload["permissions"] == "0400"
        raw = next(u for u in member.raw_inputs["uploads"]
                   if u["file"] == "/var/lib/rabbitmq/.erlang.cookie")
        assert _is_secret(raw["content"])
        # never in the command, the environment or anything else in plain text
        assert _plain(member.raw_inputs, cookie) == 0
        assert not any(cookie in e for e in member.inputs.get("envs") or [])
        assert "RABBITMQ_ERLANG_COOKIE" not in " ".join(member.inputs.get("envs") or [])
        assert f"RABBITMQ_NODENAME=rabbit@{placed.container_name}" in member.inputs["envs"]
        hosts = {(h["host"], h["ip"]) for h in member.inputs["hosts"]}
        assert hosts == set(layout.rabbitmq_hosts.items())
        # the node's data on a named volume of its own: a replaced member keeps its identity
        (mount,) = member.inputs["volumes"]
        assert mount["containerPath"] == "/var/lib/rabbitmq"
        assert mount["volumeName"] == f"{placed.container_name}-data"
        # member i+1 waits for member i (healthy): a rolling replacement keeps the others up
        if i:
            assert rabbits[i - 1].urn in member.dependencies
            assert not r.depends_transitively(rabbits[i - 1], member)


def test_memcached_servers_are_replaced_one_at_a_time() -> None:
    """memcached i+1 waits for memcached i (healthy): an image bump never takes every
    service's cache away at once (the prod stack's three controllers)."""
    r = run("prod")
    servers = [r.by_name(f"openstack-infra-memcached-{i}") for i in (1, 2, 3)]
    for i, server in enumerate(servers):
        assert server.inputs["wait"] is True
        if i:
            assert servers[i - 1].urn in server.dependencies
            assert not r.depends_transitively(servers[i - 1], server)
