#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
#
# prepare-host, part 2: swap off now and after reboots (the kubelet refuses to run with swap).
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/../common.sh"
fi
ML_STEP="prepare-host/swap"

if [[ -r "${ROOT:-}/proc/swaps" ]] && awk 'NR > 1 { found = 1 } END { exit !found }' "${ROOT:-}/proc/swaps"; then
    log "turning swap off"
    swapoff -a
fi
FSTAB="${ROOT:-}/etc/fstab"
if [[ -f ${FSTAB} ]]; then
    fstab_mode=$(stat -c '%a' "${FSTAB}")
    new_fstab=$(awk '$1 !~ /^#/ && $3 == "swap" { print "# disabled by ml-platform (kubelet needs swap off): " $0; next } { print }' "${FSTAB}")
    if write_file "${FSTAB}" "${fstab_mode}" <<<"${new_fstab}"; then
        log "commented swap entries in /etc/fstab"
    fi
fi
