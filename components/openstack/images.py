"""Pinned images of the control plane, pulled once per Docker host that runs them."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from components.hosts import HostResources
from config.settings import Settings


class ImageCache:
    """One RemoteImage per (host, reference), created on first use."""

    def __init__(self, settings: Settings, hosts: dict[str, HostResources]):
        self._hosts = hosts
        # The cluster's HAProxy image is already pulled on every host (components/hosts.py).
        self._images: dict[tuple[str, str], docker.RemoteImage] = {
            (name, settings.images.haproxy): h.haproxy_image for name, h in hosts.items()}

    def get(self, host: str, short_name: str, reference: str) -> docker.RemoteImage:
        key = (host, reference)
        if key not in self._images:
            # keep_locally: an update must not pull an image from under a running container.
            self._images[key] = docker.RemoteImage(
                f"{host}-image-{short_name}", name=reference, keep_locally=True,
                opts=pulumi.ResourceOptions(provider=self._hosts[host].provider))
        return self._images[key]

    def kolla(self, settings: Settings, host: str, image: str) -> docker.RemoteImage:
        images = settings.openstack.images
        return self.get(host, image, f"{images.registry}/{image}:{images.tag}")
