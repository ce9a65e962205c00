"""`make sizing`: DataMemory per data node and node groups for the cloud you plan.

    python -m tools.sizing [--stack dev] [--instances 2000 --instance-creates-per-day 300 ...]
                           [--node-groups G | --max-data-memory 64G]

The plan is a stack's `openstack.expectedScale` (with --stack; its services, node groups and
maxNoOfConcurrentOperations too), each flag overriding one of its keys; without --stack, the
flags on the defaults (every service of the catalog's default list). Prints the inputs and a
table; the figures come from config/ndb_memory.yaml (config/memory_sizing.py says how).
Nothing here connects to anything.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pydantic.alias_generators import to_camel  # noqa: E402

from config import memory_sizing  # noqa: E402
from config.settings import DataNodeSettings, ExpectedScale, OpenStackSettings  # noqa: E402
from config.units import parse_size  # noqa: E402

MiB = 1 << 20


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make sizing", description=__doc__.split("\n")[0])
    parser.add_argument("--stack", help="read openstack.expectedScale, services and data "
                        "nodes from Pulumi.<stack>.yaml")
    for field, info in ExpectedScale.model_fields.items():
        parser.add_argument(_flag(field), dest=field, type=int, default=None,
                            help=f"openstack.expectedScale.{to_camel(field)} "
                                 f"(default {info.default})")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--node-groups", type=int, help="size for this many node groups")
    group.add_argument("--max-data-memory", type=parse_size, default=None,
                       help="the most DataMemory a data node may have (e.g. 64G): print the "
                            "fewest node groups that fit (default 64G without --stack)")
    return parser.parse_args(argv)


def plan(args: argparse.Namespace) -> tuple[ExpectedScale, tuple[str, ...], int, int,
                                              int | None]:
    """(scale, services with databases, node groups, maxNoOfConcurrentOperations, the
    stack's dataMemory or None)."""
    from config.sizing import with_databases

    scale_raw: dict[str, Any] = {}
    if args.stack:
        from config import load_settings
        from tests.stacks import raw_settings

        settings = load_settings(raw_settings(args.stack))
        if settings.openstack.expected_scale is not None:
            scale_raw = settings.openstack.expected_scale.model_dump(by_alias=True)
        services = with_databases(settings)
        data = settings.data_nodes
        groups = max(1, data.count // data.no_of_replicas)
        operations, data_memory = data.max_no_of_concurrent_operations, data.data_memory
    else:
        from config import Settings

        services = with_databases(Settings(openstack=OpenStackSettings()))
        groups = 1
        operations = DataNodeSettings().max_no_of_concurrent_operations
        data_memory = None
    for field in ExpectedScale.model_fields:
        if getattr(args, field) is not None:
            scale_raw[to_camel(field)] = getattr(args, field)
    return ExpectedScale.model_validate(scale_raw), services, groups, operations, data_memory


def render(scale: ExpectedScale, services: tuple[str, ...], found: memory_sizing.Estimate,
           stack_data_memory: int | None, table: memory_sizing.MemoryTable) -> str:
    """The table `make sizing` prints (MiB per data node unless named otherwise)."""
    lines = [f"Measured {table.measured} on NDB {table.ndb_version} (config/ndb_memory.yaml; "
             f"{table.data_nodes} data nodes, NoOfReplicas {table.no_of_replicas})", "",
             "Plan (openstack.expectedScale):"]
    lines += [f"  {to_camel(f):26} {getattr(scale, f):>12,}" for f in ExpectedScale.model_fields]
    lines += ["", f"  {'kind':22} {'held':>12} {'bytes each':>11} {'MiB (1 copy)':>13}"]
    for kind, held in found.held.items():
        cost = table.objects.get(kind)
        if cost is None and not held:
            continue  # no measurement, and the plan holds none
        each = f"{cost.bytes:>11,}" if cost else f"{'unmeasured':>11}"
        mib = f"{held * cost.bytes / MiB:>13,.1f}" if cost else f"{'-':>13}"
        lines.append(f"  {kind:22} {held:>12,} {each} {mib}")
    lines += ["", f"Per data node ({found.node_groups} node group(s)):",
              f"  base of the services{'':13} {found.base / MiB:>10,.1f} MiB   "
              f"({', '.join(services)})",
              f"  objects / node groups{'':12} {found.data / MiB:>10,.1f} MiB",
              f"  UNDO of the largest transaction{'':2} {found.undo / MiB:>10,.1f} MiB",
              f"  used{'':29} {found.used / MiB:>10,.1f} MiB",
              f"  DataMemory at {found.target_fill_percent} % fill{'':15}"
              f"{found.data_memory / MiB:>10,.0f} MiB   <- dataNodes.dataMemory",
              f"  (NDB refuses rows at {100 - memory_sizing.MIN_FREE_PCT} % = "
              f"{found.data_memory * (100 - memory_sizing.MIN_FREE_PCT) / 100 / MiB:,.0f} MiB;"
              f" the cluster log warns at 80 % and 90 %)"]
    if found.unmeasured:
        lines.append(f"  NOT COUNTED (no measurement): {', '.join(found.unmeasured)}")
    if stack_data_memory is not None:
        verdict = "enough" if stack_data_memory >= found.data_memory else "TOO SMALL"
        lines.append(f"  the stack's dataNodes.dataMemory: {stack_data_memory / MiB:,.0f} MiB "
                     f"({verdict})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    scale, services, groups, operations, data_memory = plan(args)
    table = memory_sizing.memory_table()
    if args.node_groups:
        groups = args.node_groups
    if args.max_data_memory or not (args.stack or args.node_groups):
        found = memory_sizing.node_groups_needed(scale, services, operations,
                                                 args.max_data_memory or 64 << 30)
    else:
        found = memory_sizing.estimate(scale, services, groups, operations)
    print(render(scale, services, found, data_memory, table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
