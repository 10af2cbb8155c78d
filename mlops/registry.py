"""The model registry side of the loop: who is champion, recording a gate's verdict on a
version (the pipeline's `register` step), and promotion (the `champion` alias).

    python -m mlops.registry champion                 # prints the champion's version
    python -m mlops.registry promote --version 7      # only a version the gate approved
    python -m mlops.registry promote --version 6 --force   # roll back to an older version

Promotion moves `champion` to the version and `previous` to the old champion, so a roll back
is one command. The service loads `models:/<name>@champion` when it starts; the pipeline's
roll-out step (mlops.rollout) restarts it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from mlops import config

if TYPE_CHECKING:
    from mlops.validate import GateResult

PREVIOUS_ALIAS = "previous"
GATE_TAG = "mlops.gate"  # "passed" or "rejected", with the scores in mlops.gate.* tags


class PromotionError(RuntimeError):
    pass


def alias_version(client: MlflowClient, model_name: str, alias: str) -> str | None:
    """The version an alias points at, or None when the model or the alias does not exist."""
    try:
        model = client.get_registered_model(model_name)
    except MlflowException as error:
        if error.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
    version = model.aliases.get(alias)
    return None if version is None else str(version)


def record_gate(client: MlflowClient, model_name: str, result: GateResult) -> None:
    """Write the gate's verdict and scores on the candidate version (the `register` step)."""
    tags = {
        GATE_TAG: "passed" if result.passed else "rejected",
        f"{GATE_TAG}.metric": result.metric,
        f"{GATE_TAG}.margin": repr(result.margin),
        f"{GATE_TAG}.candidate_score": repr(result.candidate_score),
        f"{GATE_TAG}.champion_version": result.champion_version or "none",
        f"{GATE_TAG}.champion_score": "none"
        if result.champion_score is None
        else repr(result.champion_score),
    }
    for key, value in tags.items():
        client.set_model_version_tag(model_name, result.candidate_version, key, value)


def promote(
    client: MlflowClient,
    model_name: str,
    version: str,
    alias: str = config.DEFAULT_ALIAS,
    force: bool = False,
) -> str | None:
    """Point `alias` at `version`; the old target becomes `previous`. Returns the old target.

    Without `force`, only a version whose gate verdict is `passed` is promoted."""
    model_version = client.get_model_version(model_name, version)
    verdict = model_version.tags.get(GATE_TAG)
    if not force and verdict != "passed":
        raise PromotionError(
            f"{model_name} version {version} has gate verdict {verdict or 'none'}; "
            "run the gate (mlops.validate --record) first, or promote with --force"
        )
    old = alias_version(client, model_name, alias)
    if old == str(version):
        return old
    if old is not None:
        client.set_registered_model_alias(model_name, PREVIOUS_ALIAS, old)
    client.set_registered_model_alias(model_name, alias, str(version))
    return old


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlops.registry", description=__doc__)
    parser.add_argument("--model-name", default=config.model_name())
    parser.add_argument("--alias", default=config.model_alias())
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("champion", help="print the version the alias points at")
    promote_cmd = commands.add_parser("promote", help="point the alias at a version")
    promote_cmd.add_argument("--version", required=True)
    promote_cmd.add_argument("--force", action="store_true", help="skip the gate verdict check")
    args = parser.parse_args(argv)

    client = MlflowClient()
    if args.command == "champion":
        version = alias_version(client, args.model_name, args.alias)
        print(version or "none")
        return 0 if version else 1
    try:
        old = promote(client, args.model_name, args.version, args.alias, force=args.force)
    except PromotionError as error:
        print(f"error: {error}")
        return 1
    print(f"{args.model_name}@{args.alias}: {old or 'none'} -> {args.version}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
