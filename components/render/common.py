"""What every rendered file shares."""

HEADER = "# Rendered by openstack-ndb from the stack settings; edit the stack file, not this.\n"
