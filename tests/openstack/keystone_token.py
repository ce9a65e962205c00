"""Ask a running keystone for a token, in the keystone venv (keystoneauth1 lives there).

    <keystone venv>/bin/python keystone_token.py AUTH_URL USER PROJECT PASSWORD_FILE [SERVICE_URL]

Authenticates as the bootstrap admin with a password and a project scope, then lists the
users with that token. Prints one JSON object: the token's user and project ids, the
catalog's service types and the user names; with SERVICE_URL (a placement API), also what
it answers to GET /resource_providers without a token and with this one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> int:
    url, user, project, password_file = sys.argv[1:5]
    service_url = sys.argv[5] if len(sys.argv) > 5 else None
    from keystoneauth1 import session  # type: ignore[import-not-found]  # keystone venv only
    from keystoneauth1.identity import v3  # type: ignore[import-not-found]

    auth = v3.Password(auth_url=url, username=user, password=Path(password_file).read_text(),
                       project_name=project, user_domain_id="default",
                       project_domain_id="default")
    sess = session.Session(auth=auth)
    token = sess.get_token()
    ref = auth.get_access(sess)
    users = sess.get(f"{url}/users").json()["users"]
    result = {
        "token": bool(token), "user_id": ref.user_id, "project_id": ref.project_id,
        "services": sorted(s["type"] for s in ref.service_catalog.catalog),
        "users": sorted(u["name"] for u in users),
    }
    if service_url is not None:
        path = f"{service_url}/resource_providers"
        anonymous = session.Session().get(path, authenticated=False, raise_exc=False)
        answer = sess.get(path, raise_exc=False,
                          headers={"OpenStack-API-Version": "placement 1.0"})
        result["service"] = {
            "without_token": anonymous.status_code, "with_token": answer.status_code,
            "resource_providers": answer.json().get("resource_providers")
            if answer.status_code == 200 else answer.text[:500],
        }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
