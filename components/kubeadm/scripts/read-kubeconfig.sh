#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# read-kubeconfig: print /etc/kubernetes/admin.conf on stdout (and nothing else).
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
fi
ML_STEP="read-kubeconfig"

[[ -s ${ADMIN_CONF} ]] ||
    die "/etc/kubernetes/admin.conf not found: is this the first control plane, and did init run?"
cat -- "${ADMIN_CONF}"
