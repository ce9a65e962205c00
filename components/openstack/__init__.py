"""The OpenStack control plane: infrastructure, the generic OpenStackService, and wiring."""
