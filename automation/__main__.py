"""python -m automation plan --stack NAME [--json]: the offline plan of a stack."""

from __future__ import annotations

import argparse
import json
import sys

from automation.engine import evaluate, load_stack
from automation.plan import plan_document, render_text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m automation", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser(
        "plan", help="evaluate a stack offline and print what it would build"
    )
    plan.add_argument("--stack", required=True, help="stack name (reads Pulumi.<stack>.yaml)")
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    try:
        settings = load_stack(args.stack)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    evaluation = evaluate(args.stack, settings)
    if evaluation.error is not None:
        print(f"error: {evaluation.error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(plan_document(evaluation), indent=2, default=str))
    else:
        print(render_text(evaluation))
    return 0


if __name__ == "__main__":
    sys.exit(main())
