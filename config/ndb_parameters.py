"""The config.ini parameter table (names, types, defaults, ranges) taken from NDB's own
ConfigInfo.cpp into `ndb_parameters.yaml`, and the check of the [ndbd default] section against
it: each value as NDB's parser reads it (InitConfigFileParser.cpp), then NDB's cross-parameter
rules (ConfigInfo.cpp's section and config rules, listed under `rules:` in the yaml). What this
check accepts, a real ndb_mgmd 9.7 accepts (tests/testbed/test_ndb_parameters_accepted.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from config.problems import Problem
from config.settings import Settings
from config.units import format_size

TABLE = Path(__file__).with_name("ndb_parameters.yaml")

# Set from typed settings and the topology; a `parameters:` entry must not fight them.
MANAGED_DATA_NODE_PARAMETERS = {
    "NoOfReplicas": "dataNodes.noOfReplicas",
    "DataMemory": "dataNodes.dataMemory",
    "IndexMemory": "dataNodes.dataMemory (IndexMemory is deprecated and added to DataMemory)",
    "NodeId": "the topology (data nodes take ids 1..N)",
    "HostName": "the topology (hosts and network)",
    "NodeGroup": "the topology (consecutive node ids form a node group)",
    "ServerPort": "dataNodes.serverPort",
    "LocationDomainId": "the topology (each host is a location domain)",
    "TransactionDeadlockDetectionTimeout": "dataNodes.transactionDeadlockDetectionTimeout",
    "MaxNoOfConcurrentOperations": "dataNodes.maxNoOfConcurrentOperations",
    "DataDir": "the data volume",
    "BackupDataDir": "the data volume",
}


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    default: Any
    min: int | None
    max: int | None
    size: bool = False
    deprecated: bool = False
    values: tuple[str, ...] = ()


@cache
def _raw_table() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(TABLE.read_text())
    return data


@cache
def parameters(section: str) -> dict[str, Parameter]:
    """Section is DB ([ndbd]), MGM ([ndb_mgmd]) or API ([mysqld]/[api])."""
    out = {}
    for name, p in (_raw_table()["parameters"].get(section) or {}).items():
        out[name] = Parameter(
            name=name, type=str(p.get("type", "int")), default=p.get("default"),
            min=p.get("min"), max=p.get("max"), size=bool(p.get("size", False)),
            deprecated=bool(p.get("deprecated", False)),
            values=tuple(p.get("values") or ()),
        )
    return out


def default(section: str, name: str) -> Any:
    return parameters(section)[name].default


def canonical_name(section: str, name: str) -> str | None:
    """NDB matches parameter names case-insensitively; this is the source's spelling."""
    return next((n for n in parameters(section) if n.lower() == name.lower()), None)


def managed_by(name: str) -> str | None:
    lowered = {k.lower(): v for k, v in MANAGED_DATA_NODE_PARAMETERS.items()}
    return lowered.get(name.lower())


# Not checked up front: NDB parses ThreadConfig with THRConfig::do_parse (thr_config.cpp, a
# grammar of thread types, counts and CPU bindings) and this program does not, so a value
# could pass here and stop ndb_mgmd. MaxNoOfExecutionThreads or AutomaticThreadConfig are.
UNCHECKED = {
    "ThreadConfig": "its grammar (thr_config.cpp) is not checked up front, and ndb_mgmd refuses "
                    "the whole config.ini on a bad one; set MaxNoOfExecutionThreads (2-72) or "
                    "AutomaticThreadConfig instead",
}

# InitConfigFileParser::parseNameValuePair cuts a value at '#' and a line ends a value: such a
# value cannot be written into config.ini as given.
_UNWRITABLE = re.compile(r"[#\r\n\0]")
# NDB's `trim("\r\n \t")` of a value, and C isspace() (skipped before a number by strtoull).
_TRIM = "\r\n \t"
_C_SPACE = " \t\n\v\f\r"
# strtoull/strtoll with base 0: an optional sign, then 0x<hex>, 0<octal> or a decimal number.
_C_NUMBER = re.compile(r"([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
_SUFFIX_SHIFT = {"": 0, "k": 10, "K": 10, "M": 20, "G": 30}
_TRUE = ("Y", "y", "Yes", "YES", "yes", "True", "TRUE", "true", "1")
_FALSE = ("N", "n", "No", "NO", "no", "False", "FALSE", "false", "0")


def parse_number(text: str) -> int | None:
    """An int/int64 value as InitConfigFileParser::convertStringToUint64 reads it: leading
    C whitespace, optional sign, decimal, 0x hex or 0 octal (strtoull base 0), then nothing
    or one of k/K (x1024), M (x2^20), G (x2^30). Returns None where NDB says "Illegal integer
    value". Negative numbers are returned negative (NDB stores them as huge unsigned values,
    which every range refuses; -0 is 0)."""
    text = text.lstrip(_C_SPACE)
    match = _C_NUMBER.match(text)
    if match is None:
        return None
    sign, digits = match.groups()
    rest = text[match.end():]
    if rest not in _SUFFIX_SHIFT:
        return None
    base = 16 if digits[:2].lower() == "0x" else 8 if digits.startswith("0") else 10
    magnitude, shift = int(digits, base), _SUFFIX_SHIFT[rest]
    # strtoll/strtoull report ERANGE beyond 2^63 / 2^64-1, and the parser refuses a value
    # whose shifted Int64/Uint64 does not shift back.
    bound = 1 << 63 if sign == "-" else (1 << 64) - 1
    if magnitude > bound or (magnitude << shift) > bound:
        return None
    return -(magnitude << shift) if sign == "-" else magnitude << shift


def parse_bool(text: str) -> bool | None:
    """InitConfigFileParser::convertStringToBool: exactly these spellings."""
    return True if text in _TRUE else False if text in _FALSE else None


def check_value(section: str, name: str, value: Any) -> tuple[Any, str | None]:
    """Normalise one parameter value; return (value for config.ini, problem or None).

    `value` is what the stack file holds (int, str or bool); a string is read as NDB reads
    its config.ini text (`parse_number`, `parse_bool`, enum names case-insensitively)."""
    table = parameters(section)
    canonical = canonical_name(section, name)
    if canonical is None:
        return value, f"{name!r} is not an NDB [ndbd] parameter (see config/ndb_parameters.yaml)"
    p = table[canonical]
    if p.deprecated:
        return value, f"{name} is deprecated in NDB; leave it out"
    if canonical in UNCHECKED:
        return value, f"{name} is not taken here: {UNCHECKED[canonical]}"
    if isinstance(value, str) and _UNWRITABLE.search(value):
        return value, (f"{name}: {value!r} cannot be written into config.ini as given "
                       "(NDB reads '#' as a comment and a line break ends the value)")
    return _check_typed(p, name, value)


def _check_typed(  # noqa: PLR0911 (one early return per kind of problem reads best)
    p: Parameter, name: str, value: Any
) -> tuple[Any, str | None]:
    text = value.strip(_TRIM) if isinstance(value, str) else None
    if p.type == "bool":
        if isinstance(value, bool) or (type(value) is int and value in (0, 1)):
            return int(value), None
        flag = parse_bool(text) if text is not None else None
        if flag is None:
            return value, (f"{name} takes true or false (NDB spells them "
                           f"{'/'.join(_TRUE)} and {'/'.join(_FALSE)}), got {value!r}")
        return int(flag), None
    if p.type == "string":
        return str(value).strip(_TRIM), None
    if p.type == "enum":
        match = next((v for v in p.values if v.lower() == str(value).strip(_TRIM).lower()), None)
        if match is None:
            return value, f"{name} takes one of {', '.join(p.values)}, got {value!r}"
        return match, None
    number = None if isinstance(value, bool) else (
        value if isinstance(value, int) else parse_number(text or ""))
    if number is None:
        return value, (f"{name}: NDB cannot read {value!r} as a whole number (decimal, 0x hex "
                       "or 0 octal, with an optional k, K, M or G suffix)")
    if p.min is not None and number < p.min:
        return value, f"{name} must be at least {_show(p, p.min)}, got {value}"
    if p.max is not None and number > p.max:
        return value, f"{name} must be at most {_show(p, p.max)}, got {value}"
    return (format_size(number) if p.size else number), None


def _show(p: Parameter, number: int) -> str:
    return format_size(number) if p.size else str(number)


def limit(name: str) -> Any:
    return _raw_table()["limits"][name]


@dataclass(frozen=True)
class Value:
    """One [ndbd default] parameter as config.ini will carry it, and the key that set it."""

    number: int
    key: str  # a settings key path, or "" for NDB's own default
    user: bool  # a dataNodes.* key: its default or the stack file's value; not the program's
    # Whom a rule names: 2 a dataNodes.parameters entry, 1 a typed key the stack file sets.
    rank: int = 0

    def origin(self, name: str) -> str:
        if not self.key:
            return f"NDB's default for {name}"
        return self.key if self.user else f"sized for {self.key}"


# The typed settings that render into [ndbd default] (components/render/ndb.py
# data_node_parameters): name -> settings field, checked against NDB's ranges too.
TYPED_DATA_NODE_PARAMETERS = {
    "NoOfReplicas": ("dataNodes.noOfReplicas", "no_of_replicas"),
    "DataMemory": ("dataNodes.dataMemory", "data_memory"),
    "TransactionDeadlockDetectionTimeout": ("dataNodes.transactionDeadlockDetectionTimeout",
                                            "transaction_deadlock_detection_timeout"),
    "MaxNoOfConcurrentOperations": ("dataNodes.maxNoOfConcurrentOperations",
                                    "max_no_of_concurrent_operations"),
}


def data_node_problems(settings: Settings) -> list[Problem]:
    """Every problem of the [ndbd default] section the settings render, by key path: a
    `dataNodes.parameters` entry that a typed key sets, an unknown or deprecated name, a value
    NDB cannot read or that is out of its range (per-parameter, `check_value`), a typed value
    out of NDB's range, then NDB's cross-parameter rules (`cross_rule_problems`) over the
    values as rendered. The rules run only when every value is sound, as ndb_mgmd stops at
    the first value it cannot store."""
    from config import sizing  # config.sizing reads the catalog; imported where needed

    data = settings.data_nodes
    problems: list[Problem] = []
    values: dict[str, Value] = {}
    for name, (key, field) in TYPED_DATA_NODE_PARAMETERS.items():
        number, problem = check_value("DB", name, getattr(data, field))
        if problem:
            problems.append(Problem(key, problem))
        values[name] = Value(getattr(data, field), key, True,
                             1 if field in data.model_fields_set else 0)
    explicit = {name.lower() for name in data.parameters}
    services = sizing.with_databases(settings)
    for name, needed in sizing.dictionary_limits(services).items():
        if name.lower() not in explicit:
            values[name] = Value(needed, "openstack.services", False)  # config/sizing.py
    seen: dict[str, str] = {}  # canonical name -> the key that gave it
    for name, raw in data.parameters.items():
        key = f"dataNodes.parameters.{name}"
        managed = managed_by(name)
        if managed:
            problems.append(Problem(key, f"set by {managed}, not here"))
            continue
        value, problem = check_value("DB", name, raw)
        if problem:
            problems.append(Problem(key, problem))
            continue
        canonical = canonical_name("DB", name)
        assert canonical is not None  # check_value refused unknown names
        if canonical in seen:
            problems.append(Problem(key, f"also given as {seen[canonical]}: NDB matches names "
                                         "case-insensitively and refuses a parameter twice"))
            continue
        seen[canonical] = key
        if parameters("DB")[canonical].type in ("int", "int64"):
            number = value if isinstance(value, int) else parse_number(str(value))
            assert number is not None  # check_value read it
            values[canonical] = Value(number, key, True, 2)
    if problems:
        return problems
    return [Problem(key, reason) for key, reason in cross_rule_problems(values, data.count)]


def cross_rule_problems(values: Mapping[str, Value], data_nodes: int) -> list[tuple[str, str]]:
    """NDB's cross-parameter rules for [ndbd default] (yaml `rules:`), as (key path, reason).

    `values`: canonical name -> the number config.ini will carry (parameters not in it take
    NDB's default from the table). A rule over several parameters names the key of the
    first one the stack file set (else the program's), and the others' origins."""

    def get(name: str) -> Value:
        found = values.get(name)
        if found is not None:
            return found
        return Value(int(default("DB", name)), "", False)

    def blame(*names: str) -> str:
        """The key of the first of `names` the stack file set, preferring a
        dataNodes.parameters entry; else of the first one with a key at all."""
        chosen = max(names, key=lambda n: (get(n).rank, bool(get(n).key), -names.index(n)))
        return get(chosen).key or f"dataNodes.parameters.{chosen}"

    def show(name: str) -> str:
        return f"{name}={get(name).number} ({get(name).origin(name)})"

    out: list[tuple[str, str]] = []
    dml, ops = get("MaxDMLOperationsPerTransaction"), get("MaxNoOfConcurrentOperations")
    if dml.number != limit("no_dml_limit") and ops.number < dml.number:
        out.append((blame("MaxDMLOperationsPerTransaction", "MaxNoOfConcurrentOperations"),
                    f"{show('MaxDMLOperationsPerTransaction')} is above "
                    f"{show('MaxNoOfConcurrentOperations')}; NDB: \"MaxDMLOperationsPerTransaction "
                    "must not be greater than MaxNoOfConcurrentOperations\""))
    transactions = get("MaxNoOfConcurrentTransactions")
    if ops.number < transactions.number:
        out.append((blame("MaxNoOfConcurrentOperations", "MaxNoOfConcurrentTransactions"),
                    f"{show('MaxNoOfConcurrentOperations')} is below "
                    f"{show('MaxNoOfConcurrentTransactions')}; NDB: \"MaxNoOfConcurrentOperations "
                    "must be greater than MaxNoOfConcurrentTransactions\" (equal is accepted)"))
    dictionary = ("MaxNoOfTables", "MaxNoOfOrderedIndexes", "MaxNoOfUniqueHashIndexes")
    total = sum(get(n).number for n in dictionary)
    if total > limit("max_dictionary_objects"):
        largest = sorted(dictionary, key=lambda n: -get(n).number)
        out.append((blame(*largest),
                    f"{' + '.join(show(n) for n in dictionary)} = {total}; NDB: \"The sum of "
                    "MaxNoOfTables, MaxNoOfOrderedIndexes and MaxNoOfUniqueHashIndexes must "
                    f"not exceed {limit('max_dictionary_objects')}\""))
    parts = get("NoOfFragmentLogParts")
    allowed = limit("fragment_log_parts_values")
    if parts.number not in allowed:
        out.append((blame("NoOfFragmentLogParts"),
                    f"{show('NoOfFragmentLogParts')}; NDB: \"NoOfLogParts must be "
                    f"{','.join(map(str, allowed[:-1]))} or {allowed[-1]}\""))
    replicas = get("NoOfReplicas")
    if replicas.number == 1 and data_nodes > limit("max_ndb_node_groups"):
        out.append(("dataNodes.count",
                    f"{data_nodes} data nodes with NoOfReplicas=1 "
                    f"({replicas.origin('NoOfReplicas')}) "
                    f"would form more than {limit('max_ndb_node_groups')} node groups; NDB: "
                    f"\"Too many Datanodes({data_nodes}) for replicas=1, Max Nodes allowed: "
                    f"{limit('max_ndb_node_groups')}\""))
    return out
