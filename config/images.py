"""What a pinned image reference is."""

from __future__ import annotations

import re

# A digest pins exactly; otherwise the tag must carry a full version (x.y.z, or vx.y.z as the
# Prometheus project tags its images), or a dated
# OpenStack release with its distro as Kolla tags its images (2026.2-ubuntu-noble,
# 2025.1-rocky-9). Kolla rebuilds a release's tag with fixes; a digest pins the bytes.
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
_VERSIONED_TAG = re.compile(r"^(v?\d+\.\d+\.\d+([-.+_][\w.-]+)?|\d{4}\.\d+-[a-z]+-[\w.]+)$")
FLOATING_TAGS = frozenset({"latest", "stable", "edge", "master", "main", "nightly", "lts"})


def image_tag(image: str) -> str | None:
    """The tag of `registry[:port]/repo:tag`, or None when there is none."""
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def require_pinned_image(image: str) -> str:
    if _DIGEST.search(image):
        return image
    tag = image_tag(image)
    if tag is None:
        raise ValueError(f"{image!r} has no tag; pin a full version such as name:9.7.1")
    if tag.lower() in FLOATING_TAGS:
        raise ValueError(f"{image!r} uses the floating tag {tag!r}; pin a full version")
    if not _VERSIONED_TAG.match(tag):
        raise ValueError(
            f"{image!r}: tag {tag!r} is not pinned; use a full version (x.y.z) or a digest"
        )
    return image
