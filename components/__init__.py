"""Pulumi components and the pure renderers they upload (components/render)."""
