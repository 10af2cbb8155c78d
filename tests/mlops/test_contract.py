"""docs/mlops.md's contract is what the code does: every environment variable the code reads
is documented and every documented one is read; the drift job's metrics are the documented
ones (the service's are checked against a live scrape in test_service.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mlops import drift, retrain

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "mlops.md").read_text()
CONTRACT = DOC[DOC.index("## Contract with the platform") :]
OWN_VARIABLE = re.compile(r"MLOPS_[A-Z0-9_]+")


def documented_metrics(prefix: str) -> set[str]:
    """Metric family names in the contract's tables (counters without `_total`)."""
    names = re.findall(r"^\| `(" + prefix + r"[a-z_]+)`", CONTRACT, flags=re.MULTILINE)
    return {re.sub(r"_total$", "", name) for name in names}


def test_every_variable_read_is_documented_and_every_documented_one_is_read():
    code = "\n".join(p.read_text() for p in (ROOT / "mlops").glob("*.py"))
    workflow = (ROOT / ".github" / "workflows" / "mlops.yml").read_text()
    read = set(re.findall(r'"(MLOPS_[A-Z0-9_]+)"', code))
    read |= set(re.findall(r"vars\.(MLOPS_[A-Z0-9_]+)", workflow))  # GitHub variables
    documented = set(OWN_VARIABLE.findall(DOC))
    assert read, "no variables found in the code"
    assert read - documented == set(), "read but not documented"
    assert documented - read == set(), "documented but never read"
    for standard in ("MLFLOW_TRACKING_URI", "AWS_ACCESS_KEY_ID", "KF_PIPELINES_SA_TOKEN_PATH"):
        assert standard in CONTRACT


def test_drift_metrics_are_the_documented_ones():
    rows = pd.DataFrame({"a": range(300)})
    report = drift.detect(rows, rows, min_samples=10)
    outcome = retrain.RetrainOutcome(True, "r", "started")
    registry = drift.metrics(report, "m", "3", outcome, with_model_label=True)
    exported = {f.name for f in text_string_to_metric_families(generate_latest(registry).decode())}
    assert exported == documented_metrics("mlops_drift_")
