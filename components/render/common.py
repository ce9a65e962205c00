"""What every rendered file shares."""

import re

HEADER = "# Rendered by openstack-ndb from the stack settings; edit the stack file, not this.\n"

# A generated password (pulumi_random, special=False) is alphanumeric. It is written between
# single quotes into SQL, bare into option files and into connection strings: nothing that
# could end any of them passes.
_GENERATED_PASSWORD = re.compile(r"^[A-Za-z0-9_.-]{8,128}$")


def generated_password(password: str, account: str) -> str:
    """`password` unchanged when it has a generated password's form; ValueError naming
    `account` ("the check account") otherwise."""
    if not _GENERATED_PASSWORD.match(password):
        raise ValueError(f"{account}'s password must be 8-128 letters, digits, '_', '.' or "
                         "'-' (a pulumi_random password with special=False is)")
    return password
