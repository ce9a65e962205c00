"""Typed, validated stack settings: the single source of truth for every default."""

from config.loader import PROJECT, SettingsError, load_settings, raw_config_from_pulumi
from config.settings import Settings
from config.topology import Topology, build_topology

__all__ = [
    "PROJECT",
    "Settings",
    "SettingsError",
    "Topology",
    "build_topology",
    "load_settings",
    "raw_config_from_pulumi",
]
