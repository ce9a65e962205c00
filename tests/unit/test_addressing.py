"""The one address plan: blocks, service slots, and the subnet check over enabled services."""

from __future__ import annotations

import pytest

from config import SettingsError, load_settings
from config.addressing import (
    API_ENDPOINT,
    DATA_NODES,
    MANAGEMENT,
    MEMCACHED,
    RABBITMQ,
    SERVICES_FIRST,
    SQL_ENDPOINT,
    SQL_NODES,
    bind_address,
    service_block,
)
from config.catalog import load_catalog
from config.openstack_layout import offsets_needed
from tests.stacks import modified, settings_for


def test_blocks_do_not_overlap_and_fit_a_24() -> None:
    blocks = [MANAGEMENT, SQL_ENDPOINT, SQL_NODES, DATA_NODES, RABBITMQ, MEMCACHED,
              API_ENDPOINT]
    taken = [o for b in blocks for o in range(b.first, b.last + 1)]
    assert len(taken) == len(set(taken))
    assert max(taken) < SERVICES_FIRST
    last_slot = max(s.slot for s in load_catalog().services.values())
    assert service_block(last_slot).last <= 254
    with pytest.raises(IndexError):
        MANAGEMENT.offset(2)


def test_only_enabled_services_count_for_the_subnet() -> None:
    settings = settings_for("dev")
    catalog = load_catalog()
    enabled = max(catalog.services[n].slot for n in settings.openstack.services)
    assert offsets_needed(settings) == service_block(enabled).last
    raw = modified("dev", "openstack.services", ["keystone"])
    assert offsets_needed(load_settings(raw)) == service_block(0).last


def test_a_subnet_too_small_for_the_enabled_services_names_the_key() -> None:
    raw = modified("dev", "network.subnet", "172.28.0.0/25")
    with pytest.raises(SettingsError, match=r"network\.subnet: .* too small for the enabled"):
        load_settings(raw)
    raw["openstack"]["services"] = []  # the NDB tier alone fits a /25
    assert load_settings(raw).network.subnet.prefixlen == 25


def test_bind_address() -> None:
    assert bind_address("bridge", "172.28.0.10") == "0.0.0.0"
    assert bind_address("host", "10.0.0.5") == "10.0.0.5"
