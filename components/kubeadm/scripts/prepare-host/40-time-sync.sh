#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
#
# prepare-host, part 4: chrony keeps the clock in step (certificates and etcd need it).
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/../common.sh"
fi
ML_STEP="prepare-host/time-sync"

if ! pkg_installed chrony; then
    apt_install chrony
fi
ensure_enabled chrony --now
