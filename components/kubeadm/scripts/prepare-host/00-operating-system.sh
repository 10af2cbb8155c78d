#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
#
# prepare-host, part 0: the host runs a supported operating system (Ubuntu 22.04/24.04 or
# Debian 12), checked before anything on it is changed.
# Parameters: NODE_NAME.
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/../common.sh"
fi
if ! declare -F detect_os >/dev/null; then
    # shellcheck source=prepare-host/lib.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
fi
ML_STEP="prepare-host/operating-system"

require_param NODE_NAME
detect_os
log "${OS_ID} ${OS_VERSION_ID} (${OS_CODENAME}, ${ARCH})"
