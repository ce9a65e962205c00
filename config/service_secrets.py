"""The generated secrets one OpenStack service's containers are given, and the secret files a
catalog bootstrap line or config template may name (`{secret:<name>}`), each mapped to the
secret it holds."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceSecrets:
    """Plain strings: the component resolves them from Pulumi outputs, which stay secret."""

    database_password: str = ""
    keystone_password: str = ""  # the service's own keystone user
    rabbitmq_password: str = ""
    admin_password: str = ""  # the cloud admin's: keystone's bootstrap only
    domain_admin_password: str = ""  # the admin of the service's own domain (heat)
    secret_key: str = ""  # the service's own signing key (Horizon's Django SECRET_KEY)


SECRET_KEY_FILE = "secret-key"  # a service whose files name it gets a generated key

# {secret:<name>} -> what the file holds. A new secret file is a line here; mypy checks that
# the attribute exists, and a file can never receive another secret's value.
SECRET_FILES: Mapping[str, Callable[[ServiceSecrets], str]] = {
    "admin-password": lambda s: s.admin_password,
    SECRET_KEY_FILE: lambda s: s.secret_key,
}
