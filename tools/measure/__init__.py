"""Measurement CLIs behind the figures in docs/ndb-compatibility.md and config/ndb_sizing.yaml.

They print what they measure; they assert nothing. Run them from the repository root
(``python -m tools.measure.<name>``): they start real servers with the test harness
(``tests/openstack``, ``tests/real``), which is why they need the test bed and the service
venvs that ``make testbed openstack-venvs`` build. ``tests/openstack`` imports ``ndb_probe``
and ``census`` back: a test there checks the documented figures against a fresh measurement.
"""
