"""Build the upstream kustomize manifests the program applies with `apply-manifests` from local
copies of the upstream trees at the pinned refs, and record facts about them.

The program applies Kubeflow Pipelines from kustomize bases fetched on a control plane at
deploy time, so nothing offline sees what they put in the cluster. This tool builds the
program's own kustomization (`components.addons.pipelines.pipelines_kustomization`, with the
sample stores below) with `kubectl kustomize`, its remote resources rewritten to local trees,
and writes FACTS, not upstream files, to `tests/fixtures/manifest_facts/<name>.json`:

- a digest of the kustomization (so a changed patch or pin makes the facts stale);
- every object built (apiVersion, kind, name, namespace) and the CRDs among them;
- every pod template with the fields the Pod Security Standards read (tools/chart_facts.py's
  reduction), its images, and the Secrets and ConfigMaps it reads.

Sources: `<sources>/<owner>-<repo>-<ref>/` holds the repository's files at that ref (at least
the paths the kustomizations read), e.g. `kubeflow-pipelines-2.17.0/manifests/kustomize/...`
and `argoproj-argo-workflows-v4.0.5/manifests/...`. Remote references inside upstream's own kustomizations
(KFP's to Argo Workflows) are rewritten the same way, in a copy. Keep the sources outside the
repository: they are upstream code and never committed. Run it from the repository root whenever
the pin or the kustomization changes (the tests say so):

    python -m tools.manifest_facts --sources ~/chart-sources
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from components import yamltext
from components.addons import pipelines
from model.services import DatabaseAccess
from tools.chart_facts import images_of, load_documents, pod_facts, pod_templates

PROJECT_DIR = Path(__file__).resolve().parent.parent
FACTS_DIR = PROJECT_DIR / "tests" / "fixtures" / "manifest_facts"
REGENERATE = "python -m tools.manifest_facts --sources SOURCES"

# What the facts are built with: stores like the lab's (Ceph RGW, CloudNativePG), by name only.
SAMPLE_STORES = pipelines.PipelinesStores(
    endpoint=pipelines.store_endpoint("http://rook-ceph-rgw-store.rook-ceph.svc:80"),
    region="us-east-1",
    bucket="kubeflow-pipelines",
    bucket_secret="kubeflow-pipelines-bucket",
    pipeline_db=DatabaseAccess(
        "postgres-rw.postgres.svc", 5432, "mlpipeline", "kubeflow", "mlpipeline-db", ()
    ),
    metadata_db=DatabaseAccess(
        "postgres-rw.postgres.svc", 5432, "mlmetadata", "kubeflow", "mlmetadata-db", ()
    ),
)

REMOTE_DIRECTORY = re.compile(
    r"https://github\.com/(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+?)(?:\.git)?/+(?P<path>[^?\s]*)"
    r"\?ref=(?P<ref>[\w.-]+)(?:&timeout=\w+)?"
)


class ManifestFactsError(Exception):
    """Something the tool cannot record facts for; the message says what to fix."""


def kustomizations() -> dict[str, dict[str, Any]]:
    """The kustomizations facts are recorded for, by the name the program applies them under."""
    from components import versions

    return {
        "kubeflow-pipelines": pipelines.pipelines_kustomization(
            SAMPLE_STORES, versions.KUBEFLOW_PIPELINES
        )
    }


def digest(document: Mapping[str, Any]) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def local_tree(sources: Path, owner: str, repo: str, ref: str) -> Path:
    tree = sources / f"{owner}-{repo}-{ref}"
    if not tree.is_dir():
        raise ManifestFactsError(
            f"no source tree {tree}: put the files of {repo} at {ref} there "
            f"(e.g. git archive {ref} manifests | tar -x -C {tree})"
        )
    return tree


def localize(text: str, sources: Path, directory: Path) -> str:
    """`text` (a kustomization in `directory`) with every remote kustomize directory replaced
    by its local copy, as a relative path (kustomize refuses absolute ones)."""

    def local(match: re.Match[str]) -> str:
        tree = local_tree(sources, match["owner"], match["repo"], match["ref"])
        return os.path.relpath(tree / match["path"].strip("/"), directory)

    return REMOTE_DIRECTORY.sub(local, text)


def build(document: Mapping[str, Any], sources: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise ManifestFactsError("kubectl is needed (its kustomize builds the manifests)")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        # Upstream trees copied, their own remote references made local.
        copies = root / "sources"
        copies.mkdir()
        for tree in sources.iterdir():
            if tree.is_dir() and (tree / "manifests").is_dir():
                shutil.copytree(tree, copies / tree.name, symlinks=True)
        for path in copies.rglob("kustomization.yaml"):
            path.write_text(localize(path.read_text(encoding="utf-8"), copies, path.parent))
        top = root / "build"
        top.mkdir()
        text = localize(yamltext.dump(dict(document)), copies, top)
        (top / "kustomization.yaml").write_text(text)
        proc = subprocess.run(
            [kubectl, "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(top)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise ManifestFactsError(f"kubectl kustomize failed:\n{proc.stderr}")
    return [d for d in load_documents(proc.stdout) if isinstance(d, dict)]


def references(spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """("Secret" | "ConfigMap", name) a pod spec reads: env, envFrom, volumes."""
    for kind in ("initContainers", "containers"):
        for container in spec.get(kind) or []:
            for env in container.get("env") or []:
                source = env.get("valueFrom") or {}
                if "secretKeyRef" in source:
                    yield "Secret", source["secretKeyRef"]["name"]
                if "configMapKeyRef" in source:
                    yield "ConfigMap", source["configMapKeyRef"]["name"]
            for env_from in container.get("envFrom") or []:
                if "secretRef" in env_from:
                    yield "Secret", env_from["secretRef"]["name"]
                if "configMapRef" in env_from:
                    yield "ConfigMap", env_from["configMapRef"]["name"]
    for volume in spec.get("volumes") or []:
        if "secret" in volume:
            yield "Secret", volume["secret"]["secretName"]
        if "configMap" in volume:
            yield "ConfigMap", volume["configMap"]["name"]


def facts(name: str, document: Mapping[str, Any], objects: list[dict[str, Any]]) -> dict:
    pods, crds, listed = [], [], []
    for item in objects:
        metadata = item.get("metadata") or {}
        listed.append(
            {
                "apiVersion": item["apiVersion"],
                "kind": item["kind"],
                "name": metadata.get("name"),
                "namespace": metadata.get("namespace"),
            }
        )
        if item["kind"] == "CustomResourceDefinition":
            spec = item["spec"]
            crds.append(
                {
                    "group": spec["group"],
                    "kind": spec["names"]["kind"],
                    "name": metadata["name"],
                    "versions": sorted(v["name"] for v in spec["versions"] if v.get("served")),
                }
            )
        for pod_metadata, spec in pod_templates(item):
            # Names only ever read optionally: a pod starts without them.
            marks = list(_optional_references(spec))
            optional = {(k, n) for k, n, o in marks if o} - {(k, n) for k, n, o in marks if not o}
            pod = {
                "workload": f"{item['kind']}/{metadata.get('name')}",
                "namespace": metadata.get("namespace"),
                **pod_facts(pod_metadata, spec),
                "reads": sorted(
                    {f"{k}/{n}" for k, n in references(spec)} - {f"{k}/{n}" for k, n in optional}
                ),
                # The environment each container gets, by name (what settings reach it).
                "env": {
                    c["name"]: sorted(e["name"] for e in c.get("env") or [])
                    for kind in ("initContainers", "containers")
                    for c in spec.get(kind) or []
                },
            }
            pods.append(pod)
    return {
        "name": name,
        "digest": digest(document),
        "objects": sorted(listed, key=lambda o: (o["kind"], o["name"] or "")),
        "crds": sorted(crds, key=lambda c: c["name"]),
        "pods": sorted(pods, key=lambda p: p["workload"]),
        "images": sorted({i for pod in pods for i in images_of(pod)}),
    }


def _optional_references(spec: Mapping[str, Any]) -> Iterator[tuple[str, str, bool]]:
    """References marked `optional: true` (a pod starts without them)."""
    for kind in ("initContainers", "containers"):
        for container in spec.get(kind) or []:
            for env in container.get("env") or []:
                source = env.get("valueFrom") or {}
                for key, ref_kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                    if key in source:
                        yield ref_kind, source[key]["name"], bool(source[key].get("optional"))
    for volume in spec.get("volumes") or []:
        for key, ref_kind, field in (
            ("secret", "Secret", "secretName"),
            ("configMap", "ConfigMap", "name"),
        ):
            if key in volume:
                yield ref_kind, volume[key][field], bool(volume[key].get("optional"))


def load_facts(name: str) -> dict[str, Any]:
    return json.loads((FACTS_DIR / f"{name}.json").read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=Path, required=True)
    args = parser.parse_args(argv)
    FACTS_DIR.mkdir(parents=True, exist_ok=True)
    try:
        for name, document in kustomizations().items():
            recorded = facts(name, document, build(document, args.sources.expanduser()))
            path = FACTS_DIR / f"{name}.json"
            path.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
            print(f"{path.relative_to(PROJECT_DIR)}: {len(recorded['objects'])} objects")
    except ManifestFactsError as error:
        print(f"manifest facts: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
