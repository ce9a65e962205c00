"""Register a service's keystone user as the program does (components/openstack/service.py
with pulumi-openstack: the user in the Default domain with its password, the admin role on
the `service` project), here through keystone's REST API; in the keystone venv.

    <keystone venv>/bin/python keystone_register.py \
        AUTH_URL ADMIN PROJECT ADMIN_PASSWORD_FILE NAME PASSWORD_FILE
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def main() -> int:
    url, admin, project, admin_pw, name, password_file = sys.argv[1:7]
    from keystoneauth1 import session  # type: ignore[import-not-found]  # keystone venv only
    from keystoneauth1.identity import v3  # type: ignore[import-not-found]

    auth = v3.Password(auth_url=url, username=admin, password=Path(admin_pw).read_text(),
                       project_name=project, user_domain_id="default",
                       project_domain_id="default")
    sess = session.Session(auth=auth)

    def one(path: str, key: str, body: dict[str, Any], **query: str) -> str:
        found = sess.get(f"{url}/{path}", params=query).json()[path]
        if found:
            return str(found[0]["id"])
        return str(sess.post(f"{url}/{path}", json={key: body}).json()[key]["id"])

    project_id = one("projects", "project", {"name": "service", "domain_id": "default"},
                     name="service")
    user_id = one("users", "user", {"name": name, "domain_id": "default",
                                    "password": Path(password_file).read_text(),
                                    "default_project_id": project_id}, name=name)
    role_id = sess.get(f"{url}/roles", params={"name": "admin"}).json()["roles"][0]["id"]
    sess.put(f"{url}/projects/{project_id}/users/{user_id}/roles/{role_id}")
    print(user_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
