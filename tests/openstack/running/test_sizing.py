"""The DataMemory fit holds at 2N objects (issue 15, item 5): on the running dev cloud, N
objects of each kind and then N more through the public APIs (tools/measure/sizing.py, the
measurement behind config/ndb_memory.yaml); bytes per object fitted from the first N alone
must predict what ``ndbinfo.memory_per_fragment`` measures for the second N within 15 % for
all kinds together (within 25 % for each kind alone). About 10 minutes on the shared cloud:
marked `full`.
"""

from __future__ import annotations

import json

import pytest

from tests.openstack.cloud import Cloud
from tools.measure.sizing import measure

pytestmark = pytest.mark.full

N = 10
TOLERANCE = 0.15  # the prediction at 2N, summed over the kinds
# One kind alone is noisier at these N: an ordered index grows by whole T-tree nodes
# (measured 2026-12-01: images -19 %, security group rules -16 %, the sum -5 %).
KIND_TOLERANCE = 0.25
# Kinds that write no row at all: nothing to fit (fernet tokens; measured 0 bytes).
ROWLESS_BELOW = 64  # bytes per object under which a kind counts as writing nothing


def test_bytes_per_object_fitted_at_n_predict_2n(cloud: Cloud,
                                                 tmp_path_factory: pytest.TempPathFactory
                                                 ) -> None:
    record = measure(cloud, N, tmp_path_factory.mktemp("sizing"), cleanup=True)
    print(json.dumps(record, indent=1))
    assert not record["not_measured"], record["not_measured"]
    measured_total = predicted_total = 0
    for kind, cost in record["objects"].items():
        second = cost["round2"]
        measured_total += second["measured_bytes"]
        predicted_total += second["predicted_bytes"]
        if cost["bytes"] < ROWLESS_BELOW:
            assert abs(second["measured_bytes"]) < ROWLESS_BELOW * second["count"], (kind, cost)
            continue
        error = abs(second["predicted_bytes"] - second["measured_bytes"])
        assert error <= KIND_TOLERANCE * second["measured_bytes"], (kind, cost)
    assert abs(predicted_total - measured_total) <= TOLERANCE * measured_total
