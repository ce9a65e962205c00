"""Pinned images of the control plane, pulled once per Docker host that runs them."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from components.containers import HostResources
from config.settings import Settings


class ImageCache:
    """One RemoteImage per (host, reference), created on first use, named `<prefix>-...` and
    parented to the component that owns the cache."""

    def __init__(self, settings: Settings, hosts: dict[str, HostResources], prefix: str,
                 parent: pulumi.Resource):
        self._settings = settings
        self._hosts = hosts
        self._prefix = prefix
        self._parent = parent
        # The cluster's HAProxy image is already pulled on every host.
        self._images: dict[tuple[str, str], docker.RemoteImage] = {
            (name, settings.images.haproxy): h.haproxy_image for name, h in hosts.items()}

    def get(self, host: str, short_name: str, reference: str) -> docker.RemoteImage:
        key = (host, reference)
        if key not in self._images:
            # keep_locally: an update must not pull an image from under a running container.
            self._images[key] = docker.RemoteImage(
                f"{self._prefix}-{host}-image-{short_name}", name=reference, keep_locally=True,
                opts=pulumi.ResourceOptions(parent=self._parent,
                                            provider=self._hosts[host].provider))
        return self._images[key]

    def kolla(self, host: str, image: str) -> docker.RemoteImage:
        images = self._settings.openstack.images
        return self.get(host, image, f"{images.registry}/{image}:{images.tag}")
