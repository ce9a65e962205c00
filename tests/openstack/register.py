"""Register one service in keystone through openstacksdk, from the program's own description
(components/render/registration.py, `ServiceRegistration.as_json`): what pulumi-openstack
does in a deployment, where pulumi cannot run. Idempotent: what exists is kept. Runs in the
openstack CLI's venv (openstacksdk lives there); prints one JSON object.

    python register.py register  DESCRIPTION.json AUTH.json PASSWORD_FILE [DOMAIN_PASSWORD_FILE]
    python register.py show      DESCRIPTION.json AUTH.json
    python register.py user      DESCRIPTION.json AUTH.json PASSWORD_FILE

AUTH.json: {"auth_url", "username", "project_name", "password_file", "region_name"} of the
bootstrap admin (user and project in the Default domain). Passwords only ever in files.
show: what keystone holds for the description, in the description's own shape, so the caller
compares the two. user: only the description's project, user and project roles (a test user,
no service: {"name", "user_domain_id", "project": {"name", "domain_id", "description"},
"project_roles"}).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the project's side only: this script also runs in the CLI's venv
    from config.settings import OpenStackSettings

REGISTER_TIMEOUT_S = 300


def admin_auth(openstack: OpenStackSettings, auth_url: str, password_file: Path
               ) -> dict[str, str]:
    """AUTH.json of the stack's bootstrap admin (`openstack`: the stack's `openstack`
    settings) at keystone's `auth_url` (the /v3 URL), its password in `password_file`."""
    return {"auth_url": auth_url, "username": openstack.admin_user,
            "project_name": openstack.admin_project, "region_name": openstack.region,
            "password_file": str(password_file)}


def invoke(python: Path, command: str, description: dict[str, Any], auth: dict[str, str],
           folder: Path, *password_files: Path) -> Any:
    """Run this script in the venv of `python` (which has openstacksdk) from the project's
    side: writes the description and the admin's auth (its password already in a file
    under `folder`) to `folder`; returns the script's JSON answer. Raises RuntimeError with
    the script's stderr when it fails."""
    folder.mkdir(parents=True, exist_ok=True)
    description_file = folder / f"{description['name']}.json"
    description_file.write_text(json.dumps(description, indent=1))
    auth_file = folder / "admin-auth.json"
    auth_file.write_text(json.dumps(auth))
    done = subprocess.run(
        [str(python), __file__, command, str(description_file), str(auth_file),
         *map(str, password_files)],
        capture_output=True, text=True, timeout=REGISTER_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"register.py {command} {description['name']} failed:\n"
                           f"{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def connect(auth_file: str) -> Any:
    import openstack  # type: ignore[import-not-found]  # the CLI venv only

    auth = json.loads(Path(auth_file).read_text())
    return openstack.connect(
        auth_url=auth["auth_url"], username=auth["username"],
        password=Path(auth["password_file"]).read_text(), project_name=auth["project_name"],
        user_domain_id="default", project_domain_id="default",
        region_name=auth["region_name"], identity_api_version="3")


def _one(found: Any) -> Any:
    items = list(found)
    return items[0] if items else None


def project_user(conn: Any, d: dict[str, Any], password: str) -> Any:
    """The description's project, its user (with `password` if it is made) and the user's
    roles on the project; the user."""
    idn = conn.identity
    p = d["project"]
    project = _one(idn.projects(name=p["name"], domain_id=p["domain_id"])) or \
        idn.create_project(name=p["name"], domain_id=p["domain_id"],
                           description=p["description"])
    user = _one(idn.users(name=d["name"], domain_id=d["user_domain_id"])) or \
        idn.create_user(name=d["name"], domain_id=d["user_domain_id"], password=password,
                        default_project_id=project.id)
    for role in d["project_roles"]:
        idn.assign_project_role_to_user(project, user, idn.find_role(role, ignore_missing=False))
    return user


def register(conn: Any, d: dict[str, Any], password: str,
             domain_password: str | None) -> dict[str, Any]:
    idn = conn.identity
    user = project_user(conn, d, password)
    service = _one(idn.services(type=d["type"])) or idn.create_service(
        name=d["name"], type=d["type"], description=d["description"])
    have = {e.interface for e in idn.endpoints(service_id=service.id)}
    for e in d["endpoints"]:
        if e["interface"] not in have:
            idn.create_endpoint(service_id=service.id, interface=e["interface"], url=e["url"],
                                region_id=e["region"])
    result: dict[str, Any] = {"user_id": user.id, "service_id": service.id}
    dom = d.get("domain")
    if dom is not None:
        assert domain_password is not None, "a domain needs its administrator's password"
        domain = idn.find_domain(dom["name"]) or idn.create_domain(
            name=dom["name"], description=dom["description"])
        admin = _one(idn.users(name=dom["admin"], domain_id=domain.id)) or idn.create_user(
            name=dom["admin"], domain_id=domain.id, password=domain_password)
        idn.assign_domain_role_to_user(domain, admin,
                                       idn.find_role(dom["admin_role"], ignore_missing=False))
        for role in dom["roles"]:
            if idn.find_role(role) is None:
                idn.create_role(name=role)
        result["domain_id"] = domain.id
    return result


def show(conn: Any, d: dict[str, Any]) -> dict[str, Any]:
    """Keystone's rows for the description, as a description (None where absent)."""
    idn = conn.identity
    p = d["project"]
    project = _one(idn.projects(name=p["name"], domain_id=p["domain_id"]))
    user = _one(idn.users(name=d["name"], domain_id=d["user_domain_id"]))
    service = _one(idn.services(type=d["type"]))
    if project is None or user is None or service is None:
        return {"missing": [k for k, v in (("project", project), ("user", user),
                                           ("service", service)) if v is None]}
    roles = {r.id: r.name for r in idn.roles()}
    granted = [roles[a.role["id"]] for a in idn.role_assignments(
        user_id=user.id, scope_project_id=project.id)]
    order = [e["interface"] for e in d["endpoints"]]
    endpoints = sorted(({"interface": e.interface, "url": e.url, "region": e.region_id}
                        for e in idn.endpoints(service_id=service.id)),
                       key=lambda e: order.index(e["interface"]) if e["interface"] in order
                       else len(order))
    shown: dict[str, Any] = {
        "name": user.name, "type": service.type, "description": service.description,
        "user_domain_id": user.domain_id,
        "project": {"name": project.name, "domain_id": project.domain_id,
                    "description": project.description},
        "project_roles": [r for r in d["project_roles"] if r in granted]
        + sorted(r for r in granted if r not in d["project_roles"]),
        "endpoints": endpoints, "domain": None,
    }
    dom = d.get("domain")
    if dom is not None:
        domain = idn.find_domain(dom["name"])
        admin = domain and _one(idn.users(name=dom["admin"], domain_id=domain.id))
        if domain is not None and admin is not None:
            on_domain = [roles[a.role["id"]] for a in idn.role_assignments(
                user_id=admin.id, scope_domain_id=domain.id)]
            shown["domain"] = {
                "name": domain.name, "description": domain.description, "admin": admin.name,
                "admin_role": dom["admin_role"] if dom["admin_role"] in on_domain
                else ",".join(on_domain),
                "roles": sorted(r for r in dom["roles"] if r in roles.values()),
            }
    return shown


def main() -> int:
    command, description_file, auth_file, *passwords = sys.argv[1:]
    description = json.loads(Path(description_file).read_text())
    conn = connect(auth_file)
    if command == "register":
        password = Path(passwords[0]).read_text()
        domain_password = Path(passwords[1]).read_text() if len(passwords) > 1 else None
        result = register(conn, description, password, domain_password)
    elif command == "user":
        result = {"user_id": project_user(conn, description, Path(passwords[0]).read_text()).id}
    else:
        result = show(conn, description)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
