"""python -m automation COMMAND --stack NAME

Offline, with no Pulumi CLI, state or credentials:
  plan           what a stack would build (--json for machines)
  registrations  every resource the program registers, with its inputs, as JSON
  diff           what the working tree changes against a git ref (--base, default origin/main)

With the Pulumi CLI, through the Automation API:
  preview, up, refresh, destroy   (only `up` creates a stack that does not exist yet)
  check          the backend and passphrase checks those make first, and nothing else

Backend: --backend, else $PULUMI_BACKEND_URL, else backend.url in Pulumi.yaml, else the one
the Pulumi CLI is logged in to.

Exit codes: 0 done, 1 failed (a usage error too), 2 changes found with --expect-no-changes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import NoReturn

from automation import diff, driver, registrations
from automation.engine import Evaluation, evaluate, load_stack
from automation.plan import plan_document, render_text


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse exits 2 on a usage error, which a drift check would read as "changes found".
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m automation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--stack", required=True, help="stack name (reads Pulumi.<stack>.yaml)")
        return sub

    plan = command("plan", "evaluate a stack offline and print what it would build")
    plan.add_argument("--json", action="store_true", help="machine-readable output")

    documents = command(
        "registrations", "print every resource the program registers, with its inputs, as JSON"
    )
    documents.add_argument("--output", type=Path, help="write to this file, not stdout")

    offline = command("diff", "list what the working tree adds, removes and changes against a ref")
    offline.add_argument("--base", default=diff.DEFAULT_BASE, help="git ref to compare with")
    offline.add_argument("--comment-file", type=Path, help="also write a pull-request comment here")
    offline.add_argument(
        "--expect-no-changes", action="store_true", help="exit 2 if anything differs"
    )

    backend_help = (
        "state backend URL (default: $PULUMI_BACKEND_URL, else backend.url in Pulumi.yaml, "
        "else the backend the Pulumi CLI is logged in to)"
    )
    checks = command(
        "check", "check the backend and the passphrase as the real commands do, run nothing"
    )
    checks.add_argument("--backend", help=backend_help)

    for name, help_text in (
        ("preview", "show what `up` would change (pulumi preview; never creates the stack)"),
        ("up", "create or update the stack's resources (pulumi up; creates the stack)"),
        ("refresh", "read the resources' real state into the stack (pulumi refresh)"),
        ("destroy", "delete every resource of the stack (pulumi destroy)"),
    ):
        real = command(name, help_text)
        real.add_argument("--backend", help=backend_help)
        real.add_argument("--diff", action="store_true", help="show a rich diff of each change")
        real.add_argument("--comment-file", type=Path, help="write a Markdown summary here")
        if name != "preview":
            real.add_argument("--message", help="message recorded with the operation")
        if name in ("preview", "up"):
            real.add_argument(
                "--refresh", action="store_true", help="refresh the state from providers first"
            )
        if name == "refresh":
            real.add_argument(
                "--preview-only", action="store_true", help="show what would change, write nothing"
            )
        if name in ("preview", "up", "refresh"):
            real.add_argument(
                "--expect-no-changes",
                action="store_true",
                help="exit 2 if there are changes (drift checks)",
            )
        if name == "destroy":
            real.add_argument("--yes", action="store_true", help="confirm the deletion")
    return parser


def _evaluate(stack: str) -> Evaluation | None:
    """The stack evaluated offline; None, with the reason printed, when it has no stack file."""
    try:
        settings = load_stack(stack)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return None
    return evaluate(stack, settings)


def _plan(args: argparse.Namespace) -> int:
    evaluation = _evaluate(args.stack)
    if evaluation is None:
        return 1  # 2 means "changes found" to every caller
    if evaluation.error is not None:
        print(f"error: {evaluation.error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(plan_document(evaluation), indent=2, default=str))
    else:
        print(render_text(evaluation))
    return 0


def _registrations(args: argparse.Namespace) -> int:
    evaluation = _evaluate(args.stack)
    if evaluation is None:
        return 1
    text = json.dumps(registrations.document(evaluation), indent=2, sort_keys=True)
    if args.output:
        args.output.write_text(text + "\n")
    else:
        print(text)
    if evaluation.error is not None:
        print(f"error: {evaluation.error}", file=sys.stderr)
        return 1
    return 0


def _diff(args: argparse.Namespace) -> int:
    try:
        report = diff.run(args.stack, args.base)
    except diff.DiffError as error:
        print(f"error: {error}", file=sys.stderr)
        # Reviewers read the comment, not the log: it says what went wrong too.
        report = diff.DiffReport(args.stack, args.base, error=str(error))
        if args.comment_file:
            args.comment_file.write_text(diff.render_markdown(report) + "\n")
        return 1
    print(diff.render_text(report))
    if args.comment_file:
        args.comment_file.write_text(diff.render_markdown(report) + "\n")
    if report.error:
        return 1
    return 2 if args.expect_no_changes and report.has_changes() else 0


def _real(args: argparse.Namespace) -> int:
    operation = driver.Operation(
        command=args.command,
        stack=args.stack,
        backend=args.backend,
        diff=args.diff,
        refresh=getattr(args, "refresh", False),
        preview_only=getattr(args, "preview_only", False),
        expect_no_changes=getattr(args, "expect_no_changes", False),
        message=getattr(args, "message", None),
        comment_file=args.comment_file,
        yes=getattr(args, "yes", False),
    )
    return driver.run(operation)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {
        "plan": _plan,
        "registrations": _registrations,
        "diff": _diff,
        "check": lambda args: driver.check(args.stack, args.backend),
    }
    return handlers.get(args.command, _real)(args)


if __name__ == "__main__":
    sys.exit(main())
