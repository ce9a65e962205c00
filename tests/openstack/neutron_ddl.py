"""neutron's DDL as SQLAlchemy emits it, for the tests that feed it to ndb_adapt: the unit
rule test and runtime case (f) (runtime_probe.py, run as a script from this folder)."""

ML2_PORT_BINDINGS = (  # neutron's ml2_init_ops.py
    "\nCREATE TABLE ml2_port_bindings (\n\tport_id VARCHAR(36) NOT NULL, \n\t"
    "host VARCHAR(255) DEFAULT '' NOT NULL, \n\tvif_type VARCHAR(64) NOT NULL, \n\t"
    "vnic_type VARCHAR(64) DEFAULT 'normal' NOT NULL, \n\t"
    "profile VARCHAR(4095) DEFAULT '' NOT NULL, \n\t"
    "vif_details VARCHAR(4095) DEFAULT '' NOT NULL, \n\tPRIMARY KEY (port_id), \n\t"
    "FOREIGN KEY(port_id) REFERENCES ports (id) ON DELETE CASCADE\n)ENGINE=InnoDB\n\n")
