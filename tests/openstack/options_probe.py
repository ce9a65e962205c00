"""Which options of rendered config files a service does not have; run in the service's venv.
Prints one JSON object: file -> {"unknown": [group/option, ...], "deprecated": [...]}.

    <venv>/bin/python options_probe.py < {"files": [paths], "exclude_groups": [...],
                                          "stubs": [module names]}

The options are every namespace the venv registers for oslo-config-generator (entry points
`oslo.config.opts`: the service's own, oslo.*, keystonemiddleware, ...), checked the way
oslo-config-validator checks a file, with the namespaces loaded once for all files, plus the
keystoneauth plugin options of every section that names an auth_type (registered at run time
only). Limitation: such a section is not checked to be one the service reads.
`stubs`: modules to stand in for optional libraries that an opts module imports only to
list a driver's options (cinder.opts imports every backup driver, GCS's googleapiclient).
"""

from __future__ import annotations

import json
import sys
from typing import Any
from unittest import mock


def main() -> int:
    request = json.load(sys.stdin)
    for name in request.get("stubs", []):
        sys.modules.setdefault(name, mock.MagicMock(__name__=name, __path__=[]))
    from importlib.metadata import entry_points

    from oslo_config import cfg, generator  # type: ignore[import-not-found]  # venv only
    from oslo_config import validator as v

    namespaces = sorted(e.name for e in entry_points(group="oslo.config.opts")
                        if "tests" not in e.name)
    conf = cfg.ConfigOpts()
    generator.register_cli_opts(conf)
    conf([f"--namespace={n}" for n in namespaces], project="options-probe")
    groups = generator._get_groups(generator._list_opts(namespaces))
    opt_data = generator._generate_machine_readable_data(groups, conf)
    excluded = set(request.get("exclude_groups", [])) | set(v.KNOWN_BAD_GROUPS)
    parsed: dict[str, dict[str, Any]] = {}
    for path in request["files"]:
        parsed[path] = {}
        cfg.ConfigParser(path, parsed[path]).parse()
    loaded = _auth_plugin_options(parsed)
    result: dict[str, Any] = {}
    for path, sections in parsed.items():
        unknown, deprecated = [], []
        for section, options in sections.items():
            if section in excluded:
                continue
            for option in options:
                if v._validate_deprecated_opt(section, option, opt_data):
                    deprecated.append(f"{section}/{option}")
                elif not (v._validate_opt(section, option, opt_data)
                          or option in loaded.get(section, ())):
                    unknown.append(f"{section}/{option}")
        result[path] = {"unknown": unknown, "deprecated": deprecated}
    print(json.dumps({"namespaces": namespaces, "files": result}))
    return 0


def _auth_plugin_options(parsed: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """Per section with an auth_type (in any of the files: a container's secret file holds
    the password of its plain file's section), the options keystoneauth registers when the
    service loads that plugin: auth_type, auth_section and the plugin's own (auth_url,
    username, ...). Services list them in no sample config; they exist only at run time."""
    from keystoneauth1 import loading  # type: ignore[import-not-found]  # venv only

    out: dict[str, set[str]] = {}
    for sections in parsed.values():
        for section, options in sections.items():
            for plugin in options.get("auth_type", []):
                names = {o.dest for o in loading.get_auth_common_conf_options()}
                names |= {o.dest for o in loading.get_auth_plugin_conf_options(plugin)}
                out.setdefault(section, set()).update(names)
    return out


if __name__ == "__main__":
    sys.exit(main())
