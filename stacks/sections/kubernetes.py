"""The `kubernetes:` section: read into the cluster's own settings, the version checked
against what every pinned add-on supports."""

from __future__ import annotations

from components import versions
from components.kubeadm.settings import KubernetesSettings
from model.fields import Fields
from model.settings import Context, keys_of, read_settings


def read(top: Fields, context: Context) -> KubernetesSettings | None:
    section = top.section("kubernetes", keys_of(KubernetesSettings))
    settings = None if section is None else read_settings(KubernetesSettings, section, context)
    if settings is None or not _supported(section, settings.version):
        return None
    return settings


def _supported(section: Fields, version: str) -> bool:
    supported = versions.supported_kubernetes_minors()
    if int(version.split(".")[1]) in supported:
        return True
    limits = ", ".join(
        f"{s.component} {s.release}: 1.{s.oldest_minor}-1.{s.newest_minor}"
        for s in versions.ADDON_KUBERNETES_SUPPORT
    )
    section.bad(
        "version",
        f"is outside what every pinned add-on supports ({limits})",
        f"use a 1.{supported.start} to 1.{supported.stop - 1} release, "
        f"e.g. {versions.KUBERNETES_VERSION}",
    )
    return False
