#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
#
# prepare-host, part 7: when Longhorn is the storage provider, what it needs on every node
# (longhorn.io/docs/latest/deploy/install, "Installation Requirements"): open-iscsi with the
# iscsid daemon running (Longhorn attaches its volumes through iscsiadm on the host) and an
# NFSv4 client (ReadWriteMany volumes are NFS exports of its share manager). Nothing is done
# (and nothing removed) when it is not.
# Parameters: LONGHORN (true|false, default false).
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/../common.sh"
fi
ML_STEP="prepare-host/longhorn"

: "${LONGHORN:=false}"
require_bool LONGHORN
# An if, not an early exit: the parts run in one shell, and later parts must still run.
if [[ ${LONGHORN} == true ]]; then
    longhorn_missing=()
    for pkg in open-iscsi nfs-common; do
        pkg_installed "${pkg}" || longhorn_missing+=("${pkg}")
    done
    if ((${#longhorn_missing[@]} > 0)); then
        apt_install "${longhorn_missing[@]}"
    fi
    write_file "${ROOT:-}/etc/modules-load.d/longhorn.conf" 0644 <<'MODULES' || true
# Managed by ml-platform: Longhorn attaches volumes over iSCSI.
iscsi_tcp
MODULES
    if [[ ! -d "${ROOT:-}/sys/module/iscsi_tcp" ]]; then
        log "loading kernel module iscsi_tcp"
        modprobe iscsi_tcp
    fi
    ensure_enabled iscsid --now
fi
