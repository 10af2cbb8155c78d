"""The platform's own Grafana dashboards, built as code and shipped as ConfigMaps that the
Grafana sidecar of the monitoring add-on loads (label `grafana_dashboard`, folder from the
`grafana_folder` annotation). Panels are Prometheus time series, two per row; the JSON is
Grafana's dashboard model (schemaVersion 39). The data source is kube-prometheus-stack's
Prometheus, uid `prometheus` (prometheus-community/helm-charts@kube-prometheus-stack-88.5.3
values.yaml, grafana.sidecar.datasources.uid)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
PANEL_WIDTH, PANEL_HEIGHT = 12, 8


@dataclass(frozen=True)
class Panel:
    title: str
    # PromQL per series; the legend names a series by its labels, e.g. "{{model}}".
    queries: tuple[tuple[str, str], ...]
    unit: str = "short"


def dashboard(
    uid: str,
    title: str,
    panels: Sequence[Panel],
    tags: Sequence[str] = (),
    variables: Sequence[Variable] = (),
) -> dict:
    """A dashboard of time-series panels, two per row, with `variables` to filter them."""
    board = {
        "uid": uid,
        "title": title,
        "tags": ["ml-platform", *tags],
        "schemaVersion": 39,
        "editable": False,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "panels": [_panel(i, panel) for i, panel in enumerate(panels)],
    }
    if variables:
        board["templating"] = {"list": [_variable(v) for v in variables]}
    return board


@dataclass(frozen=True)
class Variable:
    """A multi-value filter from a label's values, `$<name>` in the panels' queries."""

    name: str
    query: str  # e.g. label_values(kueue_cluster_queue_status, cluster_queue)


def _variable(variable: Variable) -> dict[str, Any]:
    return {
        "name": variable.name,
        "type": "query",
        "datasource": DATASOURCE,
        "query": variable.query,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "refresh": 2,
    }


def _panel(index: int, panel: Panel) -> dict[str, Any]:
    return {
        "id": index + 1,
        "type": "timeseries",
        "title": panel.title,
        "datasource": DATASOURCE,
        "gridPos": {
            "x": (index % 2) * PANEL_WIDTH,
            "y": (index // 2) * PANEL_HEIGHT,
            "w": PANEL_WIDTH,
            "h": PANEL_HEIGHT,
        },
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "targets": [
            {
                "refId": chr(ord("A") + n),
                "expr": expr,
                "legendFormat": legend,
                "datasource": DATASOURCE,
            }
            for n, (expr, legend) in enumerate(panel.queries)
        ],
    }


def dashboard_configmap(
    name: str,
    namespace: str,
    folder: str,
    document: dict,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
) -> kubernetes.core.v1.ConfigMap:
    """`document` as a ConfigMap the Grafana sidecar loads into `folder`."""
    return kubernetes.core.v1.ConfigMap(
        f"{name}-dashboard",
        metadata={
            "name": f"grafana-dashboard-{name}",
            "namespace": namespace,
            "labels": {"grafana_dashboard": "1", "app.kubernetes.io/part-of": "ml-platform"},
            "annotations": {"grafana_folder": folder},
        },
        data={f"{name}.json": json.dumps(document, indent=1, sort_keys=True)},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )
