"""openstack-ndb: an OpenStack control plane's database tier on a MySQL NDB Cluster in Docker.

Reads `openstack-ndb:*` from the stack file, validates all of it before any resource exists,
then declares the cluster (components/stack.py)."""

import sys

from components.stack import deploy
from config import SettingsError, load_settings, raw_config_from_pulumi
from config.catalog import CatalogError

try:
    settings = load_settings(raw_config_from_pulumi())
except (SettingsError, CatalogError) as error:
    # Printed as is and exit non-zero: a traceback would hide which key is wrong.
    print(error, file=sys.stderr)
    sys.exit(1)

deploy(settings)
