"""tools/chart_facts.py renders with real Helm as the facts claim: the stack's Kubernetes
version and API versions reach the templates, the values schema is enforced, `crds/` of
disabled subcharts are left out, test hooks dropped, and pods reduced to what Pod Security
reads. A small chart made here stands in for the upstream ones (which CI does not have)."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest

from tools.chart_facts import ChartFactsError, Release, builtin_kinds, release_facts, render

pytest.importorskip("helm_python")

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  selector: {matchLabels: {app: demo}}
  template:
    metadata:
      labels: {app: demo}
      annotations:
        container.apparmor.security.beta.kubernetes.io/app: unconfined
        unrelated: dropped
    spec:
      hostNetwork: true
      securityContext: {runAsNonRoot: true, fsGroup: 2000}
      volumes:
        - {name: host, hostPath: {path: /var/run, type: Directory}}
        - {name: config, configMap: {name: demo}}
      containers:
        - name: app
          image: "example.io/demo:{{ .Values.tag }}"
          ports: [{containerPort: 80, hostPort: 8080}, {containerPort: 9090}]
          livenessProbe: {httpGet: {host: 127.0.0.1, port: 80}}
          readinessProbe: {httpGet: {port: 80}}
          securityContext: {privileged: true}
---# a comment right after the separator still starts a document, as in Helm
apiVersion: v1
kind: ConfigMap
metadata:
  name: facts
data:
  kube: "{{ .Capabilities.KubeVersion.Version }}"
  widget: "{{ .Capabilities.APIVersions.Has "example.io/v1/Widget" }}"
"""
TEST_HOOK = """
apiVersion: v1
kind: Pod
metadata:
  name: probe
  annotations: {helm.sh/hook: test}
spec:
  containers: [{name: t, image: busybox}]
"""
CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: %(plural)s.example.io}
spec:
  group: example.io
  scope: Namespaced
  names: {kind: %(kind)s, plural: %(plural)s}
  versions:
    - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}
    - {name: v1alpha1, served: false, storage: false, schema: {openAPIV3Schema: {type: object}}}
"""
SCHEMA = {
    "type": "object",
    "properties": {"tag": {"type": "string"}, "extra": {"type": "object"}},
}


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    chart = tmp_path / "demo-1.0.0"
    write(
        chart / "Chart.yaml",
        """
        apiVersion: v2
        name: demo
        version: 1.0.0
        dependencies:
          - {name: extra, version: 0.1.0, condition: extra.enabled}
          - {name: spare, version: 0.1.0, condition: spare.enabled}
        """,
    )
    write(chart / "values.yaml", "tag: '1.0'\nextra: {enabled: true}\nspare: {enabled: false}\n")
    (chart / "values.schema.json").write_text(json.dumps(SCHEMA))
    write(chart / "templates" / "deployment.yaml", DEPLOYMENT)
    write(chart / "templates" / "tests" / "probe.yaml", TEST_HOOK)
    write(chart / "templates" / "NOTES.txt", "installed")
    for name, kind in (("extra", "Widget"), ("spare", "Gadget")):
        sub = chart / "charts" / name
        write(sub / "Chart.yaml", f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n")
        write(sub / "crds" / "crd.yaml", CRD % {"kind": kind, "plural": kind.lower() + "s"})
    return tmp_path


def release(**values) -> Release:
    return Release(
        urn="urn:demo",
        resource="demo",
        name="demo",
        reference="demo",
        repo="https://charts.example.io",
        version="1.0.0",
        namespace="apps",
        values=values,
    )


def test_render_uses_the_kubernetes_version_and_api_versions_given(sources):
    rendered = render(release(), sources, "v1.36.4", ["example.io/v1", "example.io/v1/Widget"])
    (config,) = [d for d in rendered.documents if d["kind"] == "ConfigMap"]
    assert config["data"] == {"kube": "v1.36.4", "widget": "true"}
    assert [d["kind"] for d in rendered.documents] == ["Deployment", "ConfigMap"]
    assert render(release(), sources, "v1.36.4", []).documents[1]["data"]["widget"] == "false"


def test_facts_of_a_release(sources):
    rendered = render(release(tag="2.0"), sources, "v1.36.4", [])
    facts = release_facts(rendered, {("example.io", "Widget"): "Namespaced"}, builtin_kinds("1.36"))
    assert facts["values_schema"] is True
    assert facts["images"] == ["example.io/demo:2.0"]
    # Only the enabled subchart's crds/, with the served versions only.
    assert facts["crds"] == [
        {
            "group": "example.io",
            "kind": "Widget",
            "plural": "widgets",
            "scope": "Namespaced",
            "source": "crds",
            "versions": ["v1"],
        }
    ]
    assert facts["objects"] == [
        {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "apps"},
        {"apiVersion": "v1", "kind": "ConfigMap", "namespace": "apps"},
    ]
    (pod,) = facts["pods"]
    assert pod == {
        "workload": "Deployment/demo",
        "namespace": "apps",
        "metadata": {
            "annotations": {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}
        },
        "spec": {
            "hostNetwork": True,
            "securityContext": {"runAsNonRoot": True},
            "volumes": [
                {"name": "host", "hostPath": {"path": "/var/run", "type": "Directory"}},
                {"name": "config", "configMap": {}},
            ],
            "containers": [
                {
                    "name": "app",
                    "image": "example.io/demo:2.0",
                    "ports": [{"containerPort": 80, "hostPort": 8080}],
                    "livenessProbe": {"httpGet": {"host": "127.0.0.1"}},
                    "securityContext": {"privileged": True},
                }
            ],
        },
    }


def test_values_the_schema_rejects_stop_the_tool(sources):
    with pytest.raises(ChartFactsError, match=r"values fail demo 1\.0\.0's values.schema.json"):
        render(release(tag=7), sources, "v1.36.4", [])


def test_a_missing_source_or_dependency_stops_the_tool_and_says_how_to_get_it(sources):
    with pytest.raises(
        ChartFactsError, match=re.escape("helm pull demo --repo https://charts.example.io")
    ):
        render(release(), sources / "elsewhere", "v1.36.4", [])
    shutil.rmtree(sources / "demo-1.0.0" / "charts" / "spare")
    with pytest.raises(
        ChartFactsError, match=re.escape("dependencies spare are declared in Chart.yaml")
    ):
        render(release(), sources, "v1.36.4", [])
