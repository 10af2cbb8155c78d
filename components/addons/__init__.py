"""The add-on registry: every add-on the platform knows, one line each.

`MlPlatform` deploys the enabled ones in the order their `needs` give; the stack config reads
each one's `platform.<section>`; docs/addons.md is generated from this list.
"""

from __future__ import annotations

from components.addons import (
    autoscaling,
    certificates,
    cloud_controller,
    csr_approver,
    etcd_backups,
    gpu,
    ingress,
    jupyterhub,
    kueue,
    longhorn_backups,
    longhorn_ui,
    metallb,
    mlflow,
    mlops_example,
    monitoring,
    object_store,
    pipelines,
    postgres,
    prometheus_crds,
    rancher,
    ray,
    serving,
    storage,
    tenancy,
    trainer,
)
from components.addons.addon import Addon

ADDONS: tuple[Addon, ...] = (
    cloud_controller.ADDON,
    prometheus_crds.ADDON,
    csr_approver.ADDON,
    metallb.ADDON,
    ingress.ADDON,
    certificates.ADDON,
    storage.ADDON,
    object_store.ADDON,
    gpu.ADDON,
    monitoring.ADDON,
    autoscaling.ADDON,
    postgres.ADDON,
    mlflow.ADDON,
    rancher.ADDON,
    longhorn_ui.ADDON,
    longhorn_backups.ADDON,
    etcd_backups.ADDON,
    serving.ADDON,
    ray.ADDON,
    trainer.ADDON,
    pipelines.ADDON,
    tenancy.ADDON,
    kueue.ADDON,
    jupyterhub.ADDON,
    mlops_example.ADDON,
)
