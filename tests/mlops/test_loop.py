"""Train, gate, register and promote against a real MLflow tracking server."""

from __future__ import annotations

import json

import mlflow
import pytest
from mlflow import MlflowClient

from mlops import registry, train, validate
from tests.mlops.fixtures import MODEL

WEAK = {"C": 0.01}  # held-out accuracy 0.937
STRONG = {"C": 1.0}  # 0.986
WORSE = {"C": 10.0}  # 0.972


def test_first_version_passes_then_only_better_ones(tracking):
    name = f"{MODEL}-gate"
    client = MlflowClient()

    first = train.train(name, params=WEAK)
    assert first.version == "1"
    run = client.get_run(first.run_id)
    assert run.data.params["C"] == "0.01"
    assert run.data.params["dataset"] == "breast_cancer"
    assert run.data.metrics["holdout_accuracy"] == pytest.approx(0.937, abs=0.001)
    # The drift reference is logged with the run.
    reference = mlflow.artifacts.download_artifacts(
        run_id=first.run_id, artifact_path=train.REFERENCE_ARTIFACT
    )
    assert reference.endswith("features.csv.gz")

    # No champion yet: the first version passes.
    gate = validate.validate(name, first.version)
    assert gate.passed and gate.champion_version is None
    with pytest.raises(registry.PromotionError, match="gate verdict none"):
        registry.promote(client, name, first.version)
    registry.record_gate(client, name, gate)
    assert registry.promote(client, name, first.version) is None
    assert registry.alias_version(client, name, "champion") == "1"

    # A better candidate passes and becomes champion; the old one becomes `previous`.
    better = train.train(name, params=STRONG)
    gate = validate.validate(name, better.version)
    assert gate.passed
    assert gate.champion_version == "1"
    assert gate.candidate_score - gate.champion_score == pytest.approx(0.049, abs=0.001)
    registry.record_gate(client, name, gate)
    assert registry.promote(client, name, better.version) == "1"
    assert registry.alias_version(client, name, "champion") == better.version
    assert registry.alias_version(client, name, "previous") == "1"

    # A worse candidate is rejected, the verdict is recorded, and promotion refuses it.
    worse = train.train(name, params=WORSE)
    gate = validate.validate(name, worse.version)
    assert not gate.passed
    registry.record_gate(client, name, gate)
    tags = client.get_model_version(name, worse.version).tags
    assert tags["mlops.gate"] == "rejected"
    assert tags["mlops.gate.champion_version"] == better.version
    with pytest.raises(registry.PromotionError, match="rejected"):
        registry.promote(client, name, worse.version)
    assert registry.alias_version(client, name, "champion") == better.version

    # The margin: a retrained copy of the champion ties, which passes at margin 0 only.
    tie = train.train(name, params=STRONG)
    assert validate.validate(name, tie.version, margin=0.0).passed
    assert not validate.validate(name, tie.version, margin=0.01).passed

    # Roll back: force the previous version.
    registry.promote(client, name, "1", force=True)
    assert registry.alias_version(client, name, "champion") == "1"


def test_gate_command_exit_codes(tracking, capsys):
    name = f"{MODEL}-cli"
    assert train.main(["--model-name", name, "--param", "C=1.0"]) == 0
    first = capsys.readouterr().out.strip()
    assert validate.main(["--model-name", name, "--version", first, "--record"]) == 0
    assert "PASSED" in capsys.readouterr().out
    assert registry.main(["--model-name", name, "promote", "--version", first]) == 0
    capsys.readouterr()

    assert train.main(["--model-name", name, "--param", "C=0.01"]) == 0
    second = capsys.readouterr().out.strip()
    assert validate.main(["--model-name", name, "--version", second, "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["passed"] is False and result["champion_version"] == first

    # Could not run: an unknown version, an unknown scorer, bad usage.
    assert validate.main(["--model-name", name, "--version", "99"]) == 2
    assert validate.main(["--model-name", name, "--version", first, "--metric", "nope"]) == 2
    assert validate.main(["--model-name", name]) == 2
    assert registry.main(["--model-name", name, "champion"]) == 0
    assert capsys.readouterr().out.split()[-1] == first


def test_no_champion_for_unknown_model(tracking):
    assert registry.alias_version(MlflowClient(), "never-registered", "champion") is None
