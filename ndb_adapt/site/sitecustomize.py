"""Start-up hook: put this folder on PYTHONPATH and set OPENSTACK_NDB_ADAPT=1.

Python imports ``sitecustomize`` once at start-up from the first sys.path entry that has it;
PYTHONPATH entries come first, so this file shadows the distribution's own sitecustomize,
which is therefore run afterwards (``_chain``) - the image behaves as before plus the
adaptation. With the variable unset this file only chains.
"""

from __future__ import annotations

import importlib.util
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))


def _chain() -> None:
    """Run the next sitecustomize on sys.path, the one this file shadows."""
    for entry in sys.path:
        if not entry or os.path.abspath(entry) == _HERE:
            continue
        candidate = os.path.join(entry, "sitecustomize.py")
        if os.path.isfile(candidate):
            spec = importlib.util.spec_from_file_location("_shadowed_sitecustomize", candidate)
            if spec is not None and spec.loader is not None:
                module = importlib.util.module_from_spec(spec)
                try:
                    spec.loader.exec_module(module)
                except Exception as error:  # start-up must not die here
                    sys.stderr.write(f"[ndb_adapt] shadowed sitecustomize failed: {error}\n")
            return


def _load() -> None:
    root = os.path.dirname(os.path.dirname(_HERE))  # the folder that holds ndb_adapt/
    if root not in sys.path:
        sys.path.append(root)  # appended: never shadows the service's own modules
    import ndb_adapt

    if ndb_adapt.enabled() and not ndb_adapt.install():
        sys.stderr.write("[ndb_adapt] OPENSTACK_NDB_ADAPT is set but PyMySQL is missing\n")


_chain()
_load()
