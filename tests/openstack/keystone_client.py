"""Talk to a running keystone as its bootstrap admin, in the keystone venv (keystoneauth1
lives there). Prints one JSON object.

    <keystone venv>/bin/python keystone_client.py token URL USER PROJECT PASSWORD_FILE [PLACEMENT]
    <keystone venv>/bin/python keystone_client.py image URL USER PROJECT PASSWORD_FILE \\
        GLANCE_URL CHUNK_BYTES CHUNKS

token: a project-scoped token, the catalog's service types and the user names it may list;
with PLACEMENT (a placement API's URL), what it answers to GET /resource_providers without a
token and with this one.
image: glance's image API without a token and with this one, then an image created and its
data uploaded with chunked transfer encoding, CHUNKS chunks of CHUNK_BYTES each, and read
back.
Registration goes through tests/openstack/register.py, from the program's description.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def admin_session(url: str, user: str, project: str, password_file: str) -> tuple[Any, Any]:
    from keystoneauth1 import session  # type: ignore[import-not-found]  # keystone venv only
    from keystoneauth1.identity import v3  # type: ignore[import-not-found]

    auth = v3.Password(auth_url=url, username=user, password=Path(password_file).read_text(),
                       project_name=project, user_domain_id="default",
                       project_domain_id="default")
    return auth, session.Session(auth=auth)


def token(url: str, auth: Any, sess: Any, placement: str | None) -> dict[str, Any]:
    from keystoneauth1 import session

    ref = auth.get_access(sess)
    users = sess.get(f"{url}/users").json()["users"]
    result: dict[str, Any] = {
        "token": bool(sess.get_token()), "user_id": ref.user_id, "project_id": ref.project_id,
        "services": sorted(s["type"] for s in ref.service_catalog.catalog),
        "users": sorted(u["name"] for u in users),
    }
    if placement is not None:
        path = f"{placement}/resource_providers"
        anonymous = session.Session().get(path, authenticated=False, raise_exc=False)
        answer = sess.get(path, raise_exc=False,
                          headers={"OpenStack-API-Version": "placement 1.0"})
        result["service"] = {
            "without_token": anonymous.status_code, "with_token": answer.status_code,
            "resource_providers": answer.json().get("resource_providers")
            if answer.status_code == 200 else answer.text[:500],
        }
    return result


def image(sess: Any, glance: str, chunk_bytes: str, chunks: str) -> dict[str, Any]:
    import hashlib

    from keystoneauth1 import session

    size, count = int(chunk_bytes), int(chunks)
    data = [bytes([i]) * size for i in range(count)]
    images = f"{glance}/v2/images"
    anonymous = session.Session().get(images, authenticated=False, raise_exc=False)
    listed = sess.get(images, raise_exc=False)
    created = sess.post(images, json={"name": "chunked", "disk_format": "raw",
                                      "container_format": "bare"}, raise_exc=False)
    result: dict[str, Any] = {"without_token": anonymous.status_code,
                              "with_token": listed.status_code, "created": created.status_code}
    if created.status_code != 201:
        return {**result, "error": created.text[:500]}
    image_id = created.json()["id"]
    # A generator body: requests sends it chunked, one HTTP chunk per item (no length).
    try:
        upload = sess.put(f"{images}/{image_id}/file", data=iter(data), raise_exc=False,
                          headers={"Content-Type": "application/octet-stream"})
    except Exception as error:  # the server may drop the connection mid-upload
        return {**result, "upload": f"{type(error).__name__}: {str(error)[:300]}"}
    result["upload"] = upload.status_code
    if upload.status_code != 204:
        return {**result, "error": upload.text[:500]}
    shown = sess.get(f"{images}/{image_id}").json()
    back = sess.get(f"{images}/{image_id}/file").content
    everything = b"".join(data)
    return {**result, "status": shown["status"], "size": shown["size"],
            "expected_size": len(everything), "same_bytes": back == everything,
            "sha256": hashlib.sha256(back).hexdigest(),
            "listed": image_id in [i["id"] for i in sess.get(images).json()["images"]]}


def main() -> int:
    command, url, user, project, password_file, *rest = sys.argv[1:]
    auth, sess = admin_session(url, user, project, password_file)
    if command == "token":
        result = token(url, auth, sess, rest[0] if rest else None)
    elif command == "image":
        result = image(sess, *rest)
    else:
        raise SystemExit(f"unknown command {command}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
