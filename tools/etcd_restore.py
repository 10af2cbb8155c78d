"""Print the host steps that restore etcd from a snapshot, to pipe to a control plane:

    python -m tools.etcd_restore fetch --host cp-1 --from-host cp-1 \\
        --endpoint https://s3.us-east-1.amazonaws.com --region us-east-1 \\
        --bucket ml-platform-dev-etcd-snapshots | ssh ubuntu@cp-1 sudo bash -s
    python -m tools.etcd_restore restore --host cp-1 \\
        --initial-cluster cp-1=https://192.168.10.11:2380,cp-2=...,cp-3=... \\
        --snapshot etcd-cp-1-20261129T021500Z.db | ssh ubuntu@cp-1 sudo bash -s

`fetch` (components/kubeadm/scripts/fetch-etcd-snapshot.sh) copies a shipped snapshot back
from the object store, decrypted, into the host's snapshot directory; it reads the secrets
from this shell's environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: the bucket's keys;
ETCD_BACKUP_PASSPHRASE: `pulumi stack output etcdBackupPassphrase --show-secrets`), so they
travel inside the script on ssh's stdin and never on a command line. `restore`
(scripts/restore-etcd.sh) restores the host's etcd member from a snapshot in that directory.
The whole procedure is docs/operations/backup-restore.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from components import versions  # noqa: E402
from components.kubeadm.scripts import script_bundle  # noqa: E402

SECRETS = {
    "AWS_ACCESS_KEY_ID": "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY": "AWS_SECRET_ACCESS_KEY",
    "PASSPHRASE": "ETCD_BACKUP_PASSPHRASE",
}


class MissingSecret(Exception):
    pass


def fetch_bundle(args: argparse.Namespace, environ: dict[str, str]) -> str:
    missing = [variable for variable in SECRETS.values() if not environ.get(variable)]
    if missing:
        raise MissingSecret(
            f"set {', '.join(missing)} in the environment (see docs/operations/"
            "backup-restore.md); secrets are never taken as arguments"
        )
    params = {
        "NODE_NAME": args.host,
        "STORE_ENDPOINT": args.endpoint,
        "STORE_REGION": args.region,
        "BUCKET": args.bucket,
        "FROM_HOST": args.from_host,
        "SNAPSHOT": args.snapshot,
        "RCLONE_IMAGE": versions.RCLONE_IMAGE,
        **{param: environ[variable] for param, variable in SECRETS.items()},
    }
    return script_bundle("fetch-etcd-snapshot", params)


def restore_bundle(args: argparse.Namespace) -> str:
    params = {
        "NODE_NAME": args.host,
        "INITIAL_CLUSTER": args.initial_cluster,
        "CONFIRM": f"restore-{args.host}",
    }
    if args.snapshot:
        params["SNAPSHOT"] = args.snapshot
    return script_bundle("restore-etcd", params)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="a shipped snapshot back onto a control plane")
    fetch.add_argument("--host", required=True, help="the control plane it runs on")
    fetch.add_argument("--from-host", required=True, help="the control plane that shipped it")
    fetch.add_argument("--endpoint", required=True, help="the store's endpoint, from the host")
    fetch.add_argument("--region", required=True)
    fetch.add_argument("--bucket", required=True)
    fetch.add_argument("--snapshot", default="latest", help="a snapshot's name, or latest")
    restore = commands.add_parser("restore", help="restore a control plane's etcd member")
    restore.add_argument("--host", required=True, help="the control plane it runs on")
    restore.add_argument(
        "--initial-cluster", required=True, help="every member: name=https://address:2380,..."
    )
    restore.add_argument(
        "--snapshot", help="a file in /var/lib/ml-platform/etcd-snapshots (default: newest)"
    )
    return parser


def main(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "fetch":
            text = fetch_bundle(args, dict(os.environ if environ is None else environ))
        else:
            text = restore_bundle(args)
    except (MissingSecret, ValueError) as error:
        print(f"etcd_restore: {error}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
