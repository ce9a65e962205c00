"""The control plane's renderers, read back by what reads them: configparser (oslo.config's
format), json, haproxy -c, shellcheck and Fernet itself."""

from __future__ import annotations

import base64
import configparser
import json
import os
import subprocess
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from components.render.control_plane import (
    container_paths,
    control_plane_scripts,
    render_bootstrap,
)
from components.render.haproxy import render_api_haproxy_cfg
from components.render.infra import (
    rabbitmq_environment,
    render_erlang_cookie,
    render_openrc,
    render_rabbitmq_conf,
    render_rabbitmq_password,
)
from components.render.kolla import render_config_json
from components.render.ndb import SERVICE_SQL_MODE
from components.render.openstack import (
    RABBIT_OPTIONS,
    SECRET_CONFIG,
    container_command,
    fernet_key,
    file_dests,
    render_service_files,
)
from components.render.service import render_service
from config import build_topology, load_settings
from config.addressing import SERVICE_BLOCK, usable_offsets
from config.catalog import Catalog, load_catalog
from config.openstack_layout import build_layout, offsets_needed
from config.service_secrets import ServiceSecrets
from testbed.pytest_support import require_tool
from tests.stacks import STACKS, modified, settings_for

SECRETS = ServiceSecrets(database_password="db/pw:@1", keystone_password="ks-pw",
                         rabbitmq_password="rb-pw", admin_password="admin-pw",
                         domain_admin_password="dom-pw", secret_key="django-signing-key")


def all_files(stack: str, *, secret: bool = True) -> dict[tuple[str, str], str]:
    """(container, file name) -> text, for every container of every enabled service: its
    plain files, and (secret=True) its secret files rendered from SECRETS."""
    settings = settings_for(stack)
    topo, layout = build_topology(settings), build_layout(settings)
    out = {}
    for s in layout.services:
        arts = render_service(settings, topo, layout, s)
        for container in [*([arts.bootstrap] if arts.bootstrap else []), *arts.containers]:
            where = container.placed
            files = render_service_files(settings, topo, layout, s.spec, where=where)
            out.update({(where.name, n): text for n, text in files.items()})
            if secret:
                out.update({(where.name, n): text
                            for n, text in container.render_secrets(SECRETS).items()})
    return out


def merged(files: dict[tuple[str, str], str], container: str, name: str) -> str:
    """A container's INI file with its secret options, as oslo.config reads them."""
    secret = files.get((container, SECRET_CONFIG), "")
    return files[(container, name)] + "\n" + secret.split("\n", 1)[1]


def ini(text: str) -> configparser.ConfigParser:
    # strict=False: a section may repeat, as across the files oslo.config merges
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read_string(text)
    return parser


def test_catalog_is_consistent() -> None:
    catalog = load_catalog()
    ports = [p for s in catalog.services.values() for a in s.apis.values()
             for p in (a.port, a.backend_port)]
    assert len(ports) == len(set(ports)), "two APIs share a port"
    assert all(s.ndb_sizing is not None for s in catalog.services.values() if s.databases)
    assert all(len(s.containers) + 1 <= SERVICE_BLOCK for s in catalog.services.values())
    slots = [s.slot for s in catalog.services.values()]
    assert len(slots) == len(set(slots))
    assert catalog.identity.name == "keystone" and catalog.identity.keystone is not None
    assert catalog.identity.keystone.path == "/v3"


def test_catalog_header_lists_every_placeholder() -> None:
    """The placeholder list in catalog.yaml's header is config/placeholders.py's own."""
    from config.catalog import CATALOG
    from config.placeholders import placeholder_reference

    header = [line.removeprefix("#   ") for line in CATALOG.read_text().splitlines()
              if line.startswith("#   ")]
    start = header.index(placeholder_reference()[0])
    assert header[start:start + len(placeholder_reference())] == placeholder_reference()


@pytest.mark.parametrize(("entry", "message"), [
    ({"containers": {"api": {"image": "x", "command": "x", "wsgi": "m:a", "user": "x",
                             "api": "api", "healthcheck": ["x"]}}}, "exactly one of command"),
    ({"configFiles": {"a.conf": {"dest": "/a", "template": "${nope}"}}}, "unknown placeholder"),
    ({"bootstrap": {"image": "x", "user": "x", "commands": ["x ${service_password}"]}},
     "secret fields"),
    ({"configFiles": {"a.conf": {"dest": "/a", "template": "p=${transport_url}"}}},
     "secret fields"),
    ({"containers": {"api": {"image": "x", "command": "x", "workers": [], "user": "x",
                             "api": "api", "healthcheck": ["x", "${domain_admin_password}"]}}},
     "secret fields"),
    ({"containers": {"api": {"image": "x", "command": "x", "user": "x", "api": "api",
                             "uwsgi": {"buffer-size": 1}, "healthcheck": ["x"]}}},
     "for a wsgi container"),
    ({"dependsOn": ["swift"]}, "unknown services"),
    ({"ndbSizing": None}, "needs ndbSizing"),
    ({"slot": 0}, "slot: 0 is keystone's"),
    ({"authtoken": True, "dependsOn": []}, "must list keystone"),
    ({"containers": {f"c{i}": {"image": "x", "command": "x", "workers": [], "user": "x",
                               "healthcheck": ["x"]} for i in range(SERVICE_BLOCK)}},
     "at most 5 containers"),
    ({"containers": {"api": {"image": "x", "command": "x", "user": "x", "api": "api",
                             "healthcheck": ["x"]}}}, "the options that take its worker count"),
    ({"containers": {"api": {"image": "x", "wsgi": "m:a", "workers": ["DEFAULT.workers"],
                             "user": "x", "api": "api", "healthcheck": ["x"]}}},
     "uWSGI's processes"),
    ({"containers": {"api": {"image": "x", "command": "x", "workers": ["conductor workers"],
                             "user": "x", "api": "api", "healthcheck": ["x"]}}},
     "should match pattern"),
    ({"containers": {"api": {"image": "x", "command": "x", "workers": ["DEFAULT.workers"],
                             "user": "x", "api": "api", "healthcheck": ["x"]}},
      "configFiles": {"demo.conf": {"dest": "/etc/demo/demo.conf",
                                    "sections": {"DEFAULT": {"workers": 4}}}}},
     "DEFAULT.workers is also set in configFiles"),
    ({"bootstrap": {"image": "x", "user": "x", "commands": ["x {secret:root-pw}"]}},
     "unknown secret file"),
    ({"configFiles": {"a.py": {"dest": "/a.py", "template": "K = open('{secret:key}')"}}},
     "configFiles.a.py.template names unknown secret file 'key'"),
    ({"configFiles": {"a.py": {"dest": "/a.py", "template": "# {conf:b.conf}"}}},
     "unknown conf file"),
    ({"configDir": "etc/demo"}, "should match pattern"),
])
def test_catalog_rejects_broken_entries(entry: dict[str, object], message: str) -> None:
    keystone = {"slot": 0, "description": "identity", "databases": [],
                "keystone": {"type": "identity", "api": "public", "path": "/v3"},
                "apis": {"public": {"port": 3, "backendPort": 4}},
                "containers": {"api": {"image": "k", "command": "k", "workers": [],
                                       "user": "k", "api": "public", "healthcheck": ["x"]}}}
    base: dict[str, object] = {
        "slot": 1, "description": "d", "databases": ["demo"], "dependsOn": ["keystone"],
        "ndbSizing": {"version": "1", "tables": 1, "orderedIndexes": 1,
                      "uniqueHashIndexes": 0, "foreignKeys": 0, "triggers": 1,
                      "attributes": 3},
        "apis": {"api": {"port": 1, "backendPort": 2}},
        "containers": {"api": {"image": "x", "command": "x", "workers": [], "user": "x",
                               "api": "api", "healthcheck": ["x"]}},
        "configFiles": {"demo.conf": {"dest": "/etc/demo/demo.conf", "sections": {}}},
        "bootstrap": {"image": "x", "user": "x", "commands": ["demo-manage db_sync"]},
    }
    services = {"keystone": {**keystone, "name": "keystone"},
                "demo": {**base, **entry, "name": "demo"}}
    Catalog.model_validate({"services": {"keystone": services["keystone"],
                                         "demo": {**base, "name": "demo"}}})  # base is sound
    with pytest.raises(ValueError, match=message):
        Catalog.model_validate({"services": services})


@pytest.mark.parametrize("stack", STACKS)
def test_every_database_connection_goes_through_the_sql_endpoint(stack: str) -> None:
    topo = build_topology(settings_for(stack))
    endpoint = f"@{topo.client_endpoint}/"
    files = all_files(stack)
    seen = 0
    for (container, name), text in files.items():
        if name != SECRET_CONFIG:
            continue
        parser = ini(text)
        plain = ini("\n".join(t for (c, n), t in files.items()
                              if c == container and n.endswith(".conf") and n != name))
        for section in parser.sections():
            if parser.has_option(section, "connection"):
                url = parser.get(section, "connection")
                assert endpoint in url, (container, name, section, url)
                assert "db%2Fpw%3A%401" in url  # the password is URL-quoted
                seen += 1
                if section in ("database", "api_database"):
                    mode = plain.get(section, "mysql_sql_mode")
                    assert mode == SERVICE_SQL_MODE and "NO_ENGINE_SUBSTITUTION" not in mode
    assert seen >= 9


@pytest.mark.parametrize(("charset", "in_url"), [(None, "utf8"), ("utf8mb3", "utf8"),
                                               ("utf8mb4", "utf8mb4")])
def test_connection_urls_carry_the_database_charset(charset: str | None, in_url: str) -> None:
    """openstack.databaseCharset is the connections' character set too; utf8mb3 renders the
    `utf8` every earlier release rendered (the same on the wire), so its files do not change."""
    settings = (load_settings(modified("dev", "openstack.databaseCharset", charset))
                if charset else settings_for("dev"))
    topo, layout = build_topology(settings), build_layout(settings)
    urls = []
    for s in layout.services:
        arts = render_service(settings, topo, layout, s)
        for container in [*([arts.bootstrap] if arts.bootstrap else []), *arts.containers]:
            secret = container.render_secrets(SECRETS).get(SECRET_CONFIG)
            if secret:
                parser = ini(secret)
                urls += [parser.get(sec, "connection") for sec in parser.sections()
                         if parser.has_option(sec, "connection")]
    assert len(urls) >= 9
    assert {url.rsplit("?", 1)[1] for url in urls} == {f"charset={in_url}"}


@pytest.mark.parametrize("stack", STACKS)
def test_plain_files_hold_no_secret_and_secret_files_only_secrets(stack: str) -> None:
    """The split that makes previews readable: every generated secret is in a secret file,
    and every option of a secret file carries one."""
    secrets = [v for v in vars(SECRETS).values()] + ["db%2Fpw%3A%401"]
    files = all_files(stack)
    plain = all_files(stack, secret=False)
    for key, text in plain.items():
        assert not [s for s in secrets if s in text], key
    secret_keys = set(files) - set(plain)
    assert secret_keys
    for key in secret_keys:
        options = [line for line in files[key].splitlines()
                   if line and not line.startswith(("#", "["))]
        assert options and all(any(s in line for s in secrets) for line in options), key


def test_service_files_carry_keystone_rabbit_and_cache() -> None:
    files = all_files("dev")
    nova = ini(merged(files, "nova-conductor-1", "nova.conf"))
    assert nova.get("DEFAULT", "transport_url") == \
        "rabbit://openstack:rb-pw@172.28.0.194:5672/openstack"
    assert nova.get("keystone_authtoken", "auth_url") == "http://172.28.0.196:5000/v3"
    assert nova.get("keystone_authtoken", "username") == "nova"
    assert nova.get("cache", "memcache_servers") == "172.28.0.195:11211"
    assert nova.get("vnc", "novncproxy_port") == "26080"
    novnc = ini(files[("nova-novncproxy-1", "nova.conf")])
    assert novnc.get("vnc", "novncproxy_host") == "172.28.0.219"
    keystone = ini(files[("keystone-api-1", "keystone.conf")])
    assert not keystone.has_section("keystone_authtoken")
    assert keystone.get("token", "provider") == "fernet"
    uwsgi = files[("keystone-api-1", "uwsgi-api.ini")]
    assert "http-socket = 172.28.0.198:25000" in uwsgi
    assert "module = keystone.wsgi.api:application" in uwsgi
    neutron = files[("neutron-server-1", "uwsgi-server.ini")]
    assert "env = OS_NEUTRON_CONFIG_FILES=neutron.conf;plugins/ml2/ml2_conf.ini" in neutron
    glance = files[("glance-api-1", "uwsgi-api.ini")]
    assert "module = glance.wsgi.api:application" in glance
    assert "chunked-input-limit = 67108864\n" in glance  # only glance's has it
    assert "chunked-input-limit" not in uwsgi
    # uWSGI runs as the container's user, as Kolla-Ansible's `uid`, whatever the image's USER.
    assert "\nuid = keystone\n" in uwsgi and "\nuid = glance\n" in glance


def test_horizon_is_served_by_uwsgi_as_kolla_ansible_serves_it(tmp_path: Path) -> None:
    """Kolla-Ansible 2026.2's Horizon: uWSGI serving openstack_dashboard.wsgi with one thread
    per process and the collected static files (static-map), as `uid` horizon; its settings
    snippet in local_settings.d keeps sessions in memcached (PyMemcacheCache, ignore_exc)
    and reads SECRET_KEY from a generated secret file that holds nothing else."""
    settings = settings_for("dev")
    topo, layout = build_topology(settings), build_layout(settings)
    horizon = render_service(settings, topo, layout, layout.service("horizon"))
    assert horizon.bootstrap is None
    (dashboard,) = horizon.containers
    config = json.loads(next(f.text for f in dashboard.files if f.path.endswith("config.json")))
    assert config["command"] == "uwsgi --ini /etc/horizon/uwsgi-dashboard.ini"
    dests = {f["dest"]: (f["owner"], f["perm"]) for f in config["config_files"]}
    assert dests == {
        "/etc/openstack-dashboard/local_settings.d/_9998-kolla-settings.py":
            ("horizon", "0600"),
        "/etc/horizon/uwsgi-dashboard.ini": ("horizon", "0600"),
        "/etc/horizon/secret-key": ("horizon", "0600")}
    assert dashboard.secret_files == {"secret-key": "/etc/horizon/secret-key"}
    assert dashboard.render_secrets(SECRETS) == {"secret-key": "django-signing-key"}
    files = render_service_files(settings, topo, layout, layout.service("horizon").spec,
                                 where=dashboard.placed)
    uwsgi = files["uwsgi-dashboard.ini"]
    assert "\nmodule = openstack_dashboard.wsgi:application\n" in uwsgi
    assert uwsgi.count("\nthreads = ") == 1 and "\nthreads = 1\n" in uwsgi
    assert "\nuid = horizon\n" in uwsgi
    assert ("\nstatic-map = /static=/var/lib/kolla/venv/lib/python3/site-packages/static\n"
            in uwsgi)
    snippet = files["_9998-kolla-settings.py"]
    assert "django-signing-key" not in snippet and '"/etc/horizon/secret-key"' in snippet
    key_file = tmp_path / "secret-key"
    key_file.write_text(dashboard.render_secrets(SECRETS)["secret-key"])
    # Horizon's settings.py exec()s each local_settings.d snippet in its own namespace,
    # where gettext_lazy is `_`.
    namespace: dict[str, object] = {"_": str}
    exec(snippet.replace("/etc/horizon/secret-key", str(key_file)), namespace)
    assert namespace["SECRET_KEY"] == "django-signing-key"
    assert namespace["SESSION_ENGINE"] == "django.contrib.sessions.backends.cache"
    assert namespace["CACHES"] == {"default": {
        "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
        "LOCATION": ["172.28.0.195:11211"], "OPTIONS": {"ignore_exc": True}}}
    assert namespace["OPENSTACK_KEYSTONE_URL"] == layout.identity_url("internal")
    assert namespace["COMPRESS_OFFLINE"] is True and namespace["DEBUG"] is False
    # Kolla-Ansible's check: the root URL (an anonymous user is redirected to the login).
    assert dashboard.healthcheck == ("CMD", "healthcheck_curl",
                                     f"http://{dashboard.placed.address}:28080")


@pytest.mark.parametrize("stack", STACKS)
def test_messaging_services_use_durable_queues_named_per_container(stack: str) -> None:
    """Every service with messaging gets the RabbitMQ 4 options, and each container its own
    processname: with host networking a host's containers share its hostname, and reply
    queues are named <hostname>:<processname>:<n>."""
    files = all_files(stack, secret=False)
    layout = build_layout(settings_for(stack))
    names: dict[tuple[str, str], str] = {}
    for service in layout.services:
        main = next((n for n, f in service.spec.config_files.items()
                     if f.sections is not None), None)
        if main is None:  # horizon: no oslo.config file
            continue
        for where in [*([service.bootstrap] if service.bootstrap else []),
                      *service.containers]:
            parser = ini(files[(where.name, main)])
            if not service.spec.messaging:
                assert not parser.has_section("oslo_messaging_rabbit"), where.name
                continue
            rabbit = dict(parser.items("oslo_messaging_rabbit"))
            assert {k: rabbit[k] for k in RABBIT_OPTIONS} == RABBIT_OPTIONS, where.name
            assert "heartbeat_in_pthread" not in rabbit  # gone from oslo.messaging 18
            # the queue manager (use_queue_manager) locks a file: heat-api's RPC calls failed
            # with RequiredOptError without it
            assert parser.get("oslo_concurrency", "lock_path") == \
                f"/var/lib/{service.name}/tmp", where.name
            names[(where.host, rabbit["processname"])] = where.name
    assert ("db-b" if stack == "prod" else "local", "nova-api") in names
    count = sum(len(s.containers) + (s.bootstrap is not None)
                for s in layout.services if s.spec.messaging)
    assert len(names) == count  # no two containers of a host share a process name


def test_every_process_gets_the_worker_count() -> None:
    """openstack.workers reaches each process's own option, in its own container's files:
    uWSGI's processes (Horizon's too), the command containers' catalog `workers` options."""
    settings = load_settings(modified("dev", "openstack.workers", 3))
    topo, layout = build_topology(settings), build_layout(settings)
    files: dict[tuple[str, str], str] = {}
    for s in layout.services:
        for c in s.containers:
            texts = render_service_files(settings, topo, layout, s.spec, where=c)
            files.update({(c.name, n): text for n, text in texts.items()})
    wsgi = [k for k in files if k[1].startswith("uwsgi-")]
    assert len(wsgi) == len([c for s in layout.services for c in s.containers
                             if s.spec.containers[c.role].wsgi is not None]) >= 7
    assert all("\nprocesses = 3\n" in files[k] for k in wsgi)
    expected = {("nova-conductor-1", "nova.conf"): ("conductor", "workers"),
                ("nova-scheduler-1", "nova.conf"): ("scheduler", "workers"),
                ("neutron-rpc-1", "neutron.conf"): ("DEFAULT", "rpc_workers"),
                ("heat-engine-1", "heat.conf"): ("DEFAULT", "num_engine_workers")}
    for key, (section, option) in expected.items():
        assert ini(files[key]).get(section, option) == "3", key
    assert not ini(files[("nova-api-1", "nova.conf")]).has_option("conductor", "workers")
    assert ini(files[("neutron-rpc-1", "neutron.conf")]).get(
        "DEFAULT", "rpc_state_report_workers") == "3"
    assert ("horizon-dashboard-1", "uwsgi-dashboard.ini") in wsgi


def test_neutron_runs_its_periodic_workers_as_kolla_does() -> None:
    """Beside the API (uWSGI) and the RPC server, neutron-periodic-workers with the same
    config files, health-checked by its connection to the SQL endpoint's port."""
    settings = settings_for("dev")
    topo, layout = build_topology(settings), build_layout(settings)
    neutron = render_service(settings, topo, layout, layout.service("neutron"))
    by_role = {c.role: c for c in neutron.containers}
    assert set(by_role) == {"server", "rpc", "periodic"}
    periodic = by_role["periodic"]
    config = json.loads(next(f.text for f in periodic.files if f.path.endswith("config.json")))
    assert config["command"] == ("neutron-periodic-workers --config-file "
                                 "/etc/neutron/neutron.conf --config-file "
                                 "/etc/neutron/plugins/ml2/ml2_conf.ini")
    assert periodic.healthcheck == ("CMD", "healthcheck_port", "neutron-periodic-workers",
                                    str(topo.client_endpoint.port))
    files = all_files("dev", secret=False)
    assert not ini(files[("neutron-server-1", "neutron.conf")]).has_option("DEFAULT",
                                                                           "bind_host")


def test_volume_attach_and_detach_settings() -> None:
    """nova sends a service token with its calls (cinder detaches a server's volume only for
    such a request) and finds cinder's internal endpoint; cinder calls nova's internal
    endpoint as its own user, and sends service tokens too. Passwords only in secret files."""
    files = all_files("dev")
    for container, name, user in (("nova-api-1", "nova.conf", "nova"),
                                  ("nova-conductor-1", "nova.conf", "nova"),
                                  ("cinder-api-1", "cinder.conf", "cinder"),
                                  ("cinder-scheduler-1", "cinder.conf", "cinder")):
        conf = ini(merged(files, container, name))
        assert conf.get("service_user", "send_service_user_token") == "true", container
        assert conf.get("service_user", "username") == user
        assert conf.get("service_user", "password") == "ks-pw"
        assert conf.get("service_user", "auth_url") == "http://172.28.0.196:5000/v3"
        assert "ks-pw" not in files[(container, name)]
    nova = ini(files[("nova-api-1", "nova.conf")])
    assert nova.get("cinder", "catalog_info") == "volumev3::internalURL"
    assert nova.get("cinder", "os_region_name") == "RegionOne"
    cinder = ini(merged(files, "cinder-api-1", "cinder.conf"))
    assert cinder.get("nova", "interface") == "internal"
    assert (cinder.get("nova", "username"), cinder.get("nova", "password")) == ("cinder",
                                                                               "ks-pw")


def test_prod_containers_bind_their_hosts_addresses() -> None:
    settings = settings_for("prod")
    layout = build_layout(settings)
    nova = layout.service("nova")
    assert [c.host for c in nova.containers if c.role == "api"] == ["db-b", "db-c"]
    assert {c.address for c in nova.containers} == {"10.20.0.12", "10.20.0.13"}
    # Users and services reach every API at the API endpoint's virtual address.
    assert layout.public_url("keystone", "public") == "http://10.20.0.21:5000"
    assert layout.identity_url("internal") == "http://10.20.0.21:5000/v3"
    files = all_files("prod")
    assert "http-socket = 10.20.0.13:28774" in files[("nova-api-2", "uwsgi-api.ini")]


@pytest.mark.parametrize("stack", STACKS)
def test_layout_addresses_are_unique_and_fit_the_subnet(stack: str) -> None:
    settings = settings_for(stack)
    layout = build_layout(settings)
    placed = [*layout.rabbitmq, *layout.memcached, *layout.api_endpoints]
    for s in layout.services:
        placed += [*([s.bootstrap] if s.bootstrap else []), *s.containers]
    names = [p.container_name for p in placed]
    assert len(names) == len(set(names))
    if stack == "dev":
        addresses = [p.address for p in placed]
        assert len(addresses) == len(set(addresses))
        ndb = {n.address for n in build_topology(settings).nodes}
        assert not ndb & set(addresses)
        assert offsets_needed(settings) <= usable_offsets(settings)


def test_config_json_copies_every_file_with_its_owner() -> None:
    settings = settings_for("dev")
    layout = build_layout(settings)
    keystone = layout.service("keystone")
    api = keystone.containers[0]
    doc = json.loads(render_config_json(
        keystone.spec, container_command(keystone.spec, api), "keystone",
        file_dests(keystone.spec, api), {}))
    assert doc["command"] == "uwsgi --ini /etc/keystone/uwsgi-api.ini"
    dests = {f["dest"] for f in doc["config_files"]}
    assert {"/etc/keystone/keystone.conf", "/etc/keystone/uwsgi-api.ini",
            "/etc/keystone/fernet-keys/0", "/etc/keystone/credential-keys/1"} <= dests
    assert {(f["owner"], f["perm"]) for f in doc["config_files"]} == {("keystone", "0600")}


def test_bootstrap_reads_the_admin_password_from_a_file() -> None:
    settings = settings_for("dev")
    layout = build_layout(settings)
    script = render_bootstrap(settings, layout, layout.service("keystone")).text
    assert 'OS_BOOTSTRAP_PASSWORD="$(cat /etc/keystone/admin-password)"' in script
    assert "--bootstrap-public-url http://127.0.0.1:5000/v3" in script
    assert "admin-pw" not in script
    nova = render_bootstrap(settings, layout, layout.service("nova")).text
    assert nova.index("api_db sync") < nova.index("map_cell0") < nova.index(" db sync")


def test_bootstrap_logs_its_steps_but_never_the_password(tmp_path: Path) -> None:
    """keystone's rendered bootstrap, run as the container runs it (its text as a file, its
    environment), with keystone-manage a stub: the step log masks OS_BOOTSTRAP_PASSWORD."""
    settings = settings_for("dev")
    layout = build_layout(settings)
    keystone = layout.service("keystone")
    paths = {k: str(tmp_path / Path(v).name) for k, v in container_paths(keystone).items()}
    (tmp_path / "admin-password").write_text("s3cret-pw")
    (tmp_path / "keystone-manage").write_text(
        '#!/bin/sh\n[ "${OS_BOOTSTRAP_PASSWORD:-}" != s3cret-pw ] || echo "password read"\n')
    (tmp_path / "keystone-manage").chmod(0o755)
    script = render_bootstrap(settings, layout, keystone, paths)
    (tmp_path / "bootstrap.sh").write_text(script.text)
    env = {**os.environ, **script.environment, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", str(tmp_path / "bootstrap.sh")], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "bootstrap keystone: step 1/2: keystone-manage --config-file" in done.stdout
    assert "bootstrap keystone: step 2/2: OS_BOOTSTRAP_PASSWORD=... keystone-manage" in done.stdout
    assert "password read" in done.stdout  # the line itself still passes the password
    assert "s3cret-pw" not in done.stdout + done.stderr
    assert "$(cat" not in done.stdout
    assert done.stdout.rstrip().endswith("bootstrap keystone: finished")
    # Without its environment the script refuses to start, naming what is missing.
    del env["BOOTSTRAP_SERVICE"]
    done = subprocess.run(["bash", str(tmp_path / "bootstrap.sh")], env=env,
                          capture_output=True, text=True)
    assert done.returncode != 0 and "BOOTSTRAP_SERVICE" in done.stderr
    assert "step" not in done.stdout


@pytest.mark.parametrize("stack", STACKS)
def test_api_haproxy_accepts_the_config(stack: str, tmp_path: Path) -> None:
    haproxy = require_tool("haproxy")
    layout = build_layout(settings_for(stack))
    text = render_api_haproxy_cfg(layout)
    for s in layout.services:
        for c in s.containers:
            if c.backend_port is not None:
                assert f"server {c.name} {c.address}:{c.backend_port} check" in text
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(text.replace(f"bind {layout.api_endpoints[0].address}:", "bind 127.0.0.1:")
                   .replace("bind 0.0.0.0:", "bind 127.0.0.1:"))
    result = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("stack", STACKS)
def test_control_plane_scripts_pass_shellcheck(stack: str, tmp_path: Path) -> None:
    shellcheck = require_tool("shellcheck")
    paths = []
    for name, script in control_plane_scripts(settings_for(stack)).items():
        (tmp_path / name).write_text(script.text)
        paths.append(str(tmp_path / name))
    assert len(paths) == 2 * len([s for s in build_layout(settings_for(stack)).services
                                  if s.bootstrap is not None])
    result = subprocess.run([shellcheck, "--severity=style", *paths],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_ndb_gate_fails_on_a_failed_migration(tmp_path: Path) -> None:
    scripts = control_plane_scripts(settings_for("dev"))
    script = tmp_path / "gate.sh"
    script.write_text(scripts["ndb-gate-nova.sh"].text)
    env = {**os.environ, **scripts["ndb-gate-nova.sh"].environment,
           "MIGRATION_EXIT_CODE": "1", "MIGRATION_CONTAINER": "none",
           "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    (tmp_path / "docker").write_text("#!/bin/sh\necho 'docker logs of' \"$@\"\n")
    (tmp_path / "docker").chmod(0o755)
    done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
    assert done.returncode == 1
    assert "the migrations failed (exit code 1)" in done.stdout
    assert "docker logs of logs --tail 60 none" in done.stdout


def test_ndb_gate_checks_every_database_of_the_service(tmp_path: Path) -> None:
    gate = control_plane_scripts(settings_for("dev"))["ndb-gate-nova.sh"]
    (tmp_path / "gate.sh").write_text(gate.text)
    (tmp_path / "ndb_fit").write_text('#!/bin/sh\necho "ndb_fit $*"\n')
    (tmp_path / "ndb_fit").chmod(0o755)
    env = {**os.environ, **gate.environment, "MIGRATION_EXIT_CODE": "0",
           "NDB_FIT": str(tmp_path / "ndb_fit"), "NDB_FIT_HOST": "10.0.0.5",
           "NDB_FIT_PORT": "3306"}
    done = subprocess.run(["bash", str(tmp_path / "gate.sh")], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    # The SQL password comes on standard input, never in the environment or the arguments.
    assert ("ndb_fit --host 10.0.0.5 --port 3306 --user root --password-file /dev/stdin "
            "--schema nova_api --schema nova_cell0 --schema nova") in done.stdout
    assert "ndb gate nova: passed" in done.stdout


def test_fernet_keys_are_valid_fernet_keys() -> None:
    raw = base64.b64encode(bytes(range(250, 256)) * 5 + b"\xfb\xff").decode()
    assert "+" in raw or "/" in raw
    Fernet(fernet_key(raw).encode())  # raises on a key of the wrong alphabet or length


def test_openrc_and_rabbitmq_conf() -> None:
    settings = settings_for("dev")
    layout = build_layout(settings)
    openrc = render_openrc(settings, layout, "it's secret")
    assert "export OS_AUTH_URL=http://127.0.0.1:5000/v3\n" in openrc
    assert "export OS_PASSWORD='it'\"'\"'s secret'\n" in openrc
    conf = render_rabbitmq_conf(layout, layout.rabbitmq[0])
    assert "default_user = openstack" in conf and "default_pass" not in conf
    assert "deprecated_features.permit.transient_nonexcl_queues = false\n" in conf
    assert render_rabbitmq_password("rb-pw") == "default_pass = rb-pw\n"
    for bad in ("a:b", "a/b", "a b", ""):  # RabbitMQ's tagged values, oslo.messaging's "/"
        with pytest.raises(ValueError, match="RabbitMQ password"):
            render_rabbitmq_password(bad)


def test_a_broken_catalog_file_names_the_entry_and_key(tmp_path: Path) -> None:
    """What `pulumi up` prints for a catalog mistake: the file, then one line per problem
    with the entry's key path as written in the file, no traceback (__main__ catches it)."""
    from config.catalog import CATALOG, CatalogError

    text = CATALOG.read_text().replace("      healthcheck: [healthcheck_curl, \"http://${bind_host}:${api_port}/v3\"]",
                                       "      helthcheck: [x]", 1)
    broken = tmp_path / "catalog.yaml"
    broken.write_text(text)
    with pytest.raises(CatalogError) as raised:
        load_catalog(broken)
    assert str(broken) in str(raised.value)
    assert "keystone.containers.api.helthcheck: Extra inputs are not permitted" in \
        raised.value.problems
    assert "keystone.containers.api.healthcheck: Field required" in raised.value.problems


def test_dev_renders_one_rabbitmq_member_and_one_memcached_without_clustering() -> None:
    layout = build_layout(settings_for("dev"))
    (member,) = layout.rabbitmq
    assert (member.name, member.address) == ("rabbitmq-1", "172.28.0.194")
    assert [m.address for m in layout.memcached] == ["172.28.0.195"]
    conf = render_rabbitmq_conf(layout, member)
    assert "cluster_formation" not in conf and "cluster_partition_handling" not in conf
    assert "listeners.tcp.default = 0.0.0.0:5672\n" in conf
    # the node name's host part is the container's hostname on the bridge; no epmd binding
    assert rabbitmq_environment(layout, member) == {
        "RABBITMQ_NODENAME": "rabbit@osndb-dev-rabbitmq-1"}
    assert layout.rabbitmq_hosts == {"osndb-dev-rabbitmq-1": "172.28.0.194"}


def test_prod_renders_a_cluster_of_three_on_the_three_hosts() -> None:
    layout = build_layout(settings_for("prod"))
    assert [(m.host, m.address) for m in layout.rabbitmq] == [
        ("db-a", "10.20.0.11"), ("db-b", "10.20.0.12"), ("db-c", "10.20.0.13")]
    nodes = [f"cluster_formation.classic_config.nodes.{i} = rabbit@osndb-rabbitmq-{i}"
             for i in (1, 2, 3)]
    confs = [render_rabbitmq_conf(layout, m) for m in layout.rabbitmq]
    for member, conf in zip(layout.rabbitmq, confs, strict=True):
        lines = conf.splitlines()
        assert f"listeners.tcp.default = {member.address}:5672" in lines
        assert "cluster_partition_handling = pause_minority" in lines
        assert "cluster_formation.peer_discovery_backend = classic_config" in lines
        assert [x for x in lines if x.startswith("cluster_formation.classic_config")] == nodes
        env = rabbitmq_environment(layout, member)
        assert env == {"RABBITMQ_NODENAME": f"rabbit@{member.container_name}",
                       "ERL_EPMD_ADDRESS": member.address, "RABBITMQ_DIST_PORT": "25672"}
    # every member resolves every node name's host part to that member's address
    assert layout.rabbitmq_hosts == {"osndb-rabbitmq-1": "10.20.0.11",
                                     "osndb-rabbitmq-2": "10.20.0.12",
                                     "osndb-rabbitmq-3": "10.20.0.13"}
    # only the listener differs between the members' files
    assert len({c.replace(m.address, "X") for c, m in zip(confs, layout.rabbitmq,
                                                            strict=True)}) == 1


def test_prod_services_list_every_member_and_every_memcached() -> None:
    """Kolla-Ansible's forms: rpc_transport_url with user:pass@host:port per member, and
    memcache_servers / memcached_servers listing every memcached."""
    url = ("rabbit://openstack:rb-pw@10.20.0.11:5672,openstack:rb-pw@10.20.0.12:5672,"
           "openstack:rb-pw@10.20.0.13:5672/openstack")
    servers = "10.20.0.11:11211,10.20.0.12:11211,10.20.0.13:11211"
    files = all_files("prod")
    checked = 0
    for (container, name), _ in files.items():
        if not name.endswith(".conf") or name == SECRET_CONFIG:
            continue
        conf = ini(merged(files, container, name)) if (container, SECRET_CONFIG) in files \
            else ini(files[(container, name)])
        if conf.has_option("DEFAULT", "transport_url"):
            assert conf.get("DEFAULT", "transport_url") == url, (container, name)
            checked += 1
        if conf.has_option("cache", "memcache_servers"):
            assert conf.get("cache", "memcache_servers") == servers, (container, name)
        if conf.has_option("keystone_authtoken", "memcached_servers"):
            assert conf.get("keystone_authtoken", "memcached_servers") == servers
    assert checked >= 10
    # Horizon's sessions and cache (Django's PyMemcacheCache takes a list of servers)
    assert f'"LOCATION": "{servers}".split(",")' in \
        files[("horizon-dashboard-1", "_9998-kolla-settings.py")]


def test_erlang_cookie_file_takes_a_plain_token_only() -> None:
    assert render_erlang_cookie("A" * 32) == "A" * 32  # no newline
    for bad in ("short", "a b" * 10, "x" * 256, "a\n" * 20):
        with pytest.raises(ValueError, match="Erlang cookie"):
            render_erlang_cookie(bad)
