"""The peer `make bench` measures NDB against: MariaDB Galera as Kolla-Ansible deploys it.

Three members from Debian's mariadb-server and galera-4, configured as Kolla-Ansible 20.5.0
(2025.1) configures them, behind HAProxy as its load balancer configures MariaDB when
`enable_proxysql: "no"` (one active member, the others `backup`, Kolla's clustercheck polled
over HTTP). docs/benchmarks.md says which files each setting follows and what is not modelled.
Bench-only: the program never ships any of this.
"""
