"""Ask a running keystone for a token, in the keystone venv (keystoneauth1 lives there).

    <keystone venv>/bin/python keystone_token.py AUTH_URL USER PROJECT PASSWORD_FILE

Authenticates as the bootstrap admin with a password and a project scope, then lists the
users with that token. Prints one JSON object: the token's user and project ids, the
catalog's service types and the user names.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> int:
    url, user, project, password_file = sys.argv[1:5]
    from keystoneauth1 import session  # type: ignore[import-not-found]  # keystone venv only
    from keystoneauth1.identity import v3  # type: ignore[import-not-found]

    auth = v3.Password(auth_url=url, username=user, password=Path(password_file).read_text(),
                       project_name=project, user_domain_id="default",
                       project_domain_id="default")
    sess = session.Session(auth=auth)
    token = sess.get_token()
    ref = auth.get_access(sess)
    users = sess.get(f"{url}/users").json()["users"]
    print(json.dumps({
        "token": bool(token), "user_id": ref.user_id, "project_id": ref.project_id,
        "services": sorted(s["type"] for s in ref.service_catalog.catalog),
        "users": sorted(u["name"] for u in users),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
