"""Serve keystone from its rendered config and ask it for a token, in the keystone venv.

    <keystone venv>/bin/python keystone_token.py KEYSTONE_CONF UWSGI_INI USER PROJECT PASSWORD_FILE

The WSGI application is the module that the rendered uWSGI ini names (`module = ...`), loaded
in this process and served by wsgiref on a free loopback port (the container runs the same
module under uWSGI). keystoneauth1 then authenticates as the bootstrap admin with a
password and a project scope. Prints one JSON object: the token's user id, project id, the
catalog's service types, and the user list that the token may read.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:  # keep stdout for the JSON result
        pass


def main() -> int:
    conf, uwsgi_ini, user, project, password_file = sys.argv[1:6]
    sys.argv = sys.argv[:1]  # keystone parses the command line (oslo.config), as uWSGI's would
    os.environ["OS_KEYSTONE_CONFIG_FILES"] = conf
    lines = Path(uwsgi_ini).read_text().splitlines()
    module_line = next(line for line in lines if line.startswith("module = "))
    module_name, attribute = module_line.split("=", 1)[1].strip().split(":")
    application = getattr(importlib.import_module(module_name), attribute)
    server = make_server("127.0.0.1", 0, application, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/v3"

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
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
