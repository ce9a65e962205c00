"""Run by tests/kolla/test_kolla_contract.py inside its private mount namespace, outside the
chroot (not collected by pytest): what Kolla's set_configs.py did to the throw-away overlay.

    python overlay_report.py snapshot UPPER          # path -> sha256 of every file in UPPER
    python overlay_report.py report TOP BEFORE.json  # one JSON object, below

The overlay's upper directory holds every file written through the overlay, so the files that
are new or changed in it between the snapshot before set_configs.py and the report after it
are exactly what set_configs.py wrote (``written``): the test compares them with what
config.json lists. ``files`` is what each listed destination holds: owner, mode, content.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
from pathlib import Path


def snapshot(upper: Path) -> dict[str, str]:
    """Path inside the root -> sha256, for every regular file (whiteouts and links aside)."""
    out: dict[str, str] = {}
    for folder, _, names in os.walk(upper):
        for name in names:
            path = Path(folder, name)
            if path.is_file() and not path.is_symlink():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                out["/" + path.relative_to(upper).as_posix()] = digest
    return out


def report(top: Path, before: dict[str, str]) -> dict[str, object]:
    root = top / "root"
    users = {int(fields[2]): fields[0] for line in (root / "etc/passwd").read_text().splitlines()
             if len(fields := line.split(":")) > 2}
    config = json.loads((root / "var/lib/kolla/config_files/config.json").read_text())
    files = {}
    for entry in config["config_files"]:
        dest, source = root / entry["dest"].lstrip("/"), root / entry["source"].lstrip("/")
        st = dest.stat()
        files[entry["dest"]] = {"owner": users.get(st.st_uid),
                                "mode": oct(stat.S_IMODE(st.st_mode)),
                                "same": dest.read_bytes() == source.read_bytes()}
    after = snapshot(top / "upper")
    return {"run_command": (root / "run_command").read_text(),
            "written": sorted(path for path, digest in after.items() if before.get(path) != digest),
            "files": files}


def main() -> int:
    command, where, *rest = sys.argv[1:]
    if command == "snapshot":
        print(json.dumps(snapshot(Path(where))))
    else:
        print(json.dumps(report(Path(where), json.loads(Path(rest[0]).read_text()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
