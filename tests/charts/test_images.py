"""Every image a release runs is pinned: a tag that is not `latest`, or a digest."""

from __future__ import annotations

import pytest

from tests.charts.conftest import Variant


def unpinned(image: str) -> str | None:
    """Why `image` is not pinned, or None."""
    if "@" in image:
        digest = image.partition("@")[2]
        return None if digest.startswith("sha256:") and len(digest) == 71 else "a malformed digest"
    name = image.rsplit("/", 1)[-1]
    if ":" not in name:
        return "no tag"
    if name.rsplit(":", 1)[1] == "latest":
        return "the tag latest"
    return None


def unpinned_images(variant: Variant) -> list[str]:
    problems = []
    for name, facts in sorted(variant.release_facts().items()):
        for pod in facts["pods"]:
            for kind in ("initContainers", "containers", "ephemeralContainers"):
                for container in pod["spec"].get(kind, []):
                    why = unpinned(container.get("image") or "")
                    if why:
                        problems.append(
                            f"release {name}: {pod['workload']} container {container['name']} "
                            f"runs {container.get('image')!r} with {why}"
                        )
        for item in facts["custom_resource_images"]:
            why = unpinned(item["image"])
            if why:
                problems.append(
                    f"release {name}: {item['object']} {item['path']} names {item['image']!r} "
                    f"with {why}"
                )
    return problems


def test_every_image_is_pinned(variant):
    problems = unpinned_images(variant)
    assert not problems, f"{variant.name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize(
    ("image", "why"),
    [
        ("quay.io/jetstack/cert-manager-controller:v1.21.1", None),
        ("registry.local:5000/team/app:2.0", None),
        ("docker.io/library/busybox@sha256:" + "a" * 64, None),
        ("busybox", "no tag"),
        ("registry.local:5000/team/app", "no tag"),
        ("docker.io/traefik:latest", "the tag latest"),
        ("busybox@sha256:abc", "a malformed digest"),
    ],
)
def test_pinned_means_a_tag_other_than_latest_or_a_digest(image, why):
    assert unpinned(image) == why


def test_an_unpinned_image_in_a_chart_is_caught(variant):
    import copy

    facts = copy.deepcopy(variant.facts)
    pod = facts["traefik"]["pods"][0]
    pod["spec"]["containers"][0]["image"] = "docker.io/traefik:latest"
    found = set(unpinned_images(Variant(variant.name, variant.evaluation, variant.releases, facts)))
    name = pod["spec"]["containers"][0]["name"]
    assert found - set(unpinned_images(variant)) == {
        f"release traefik: {pod['workload']} container {name} runs 'docker.io/traefik:latest' "
        "with the tag latest"
    }
