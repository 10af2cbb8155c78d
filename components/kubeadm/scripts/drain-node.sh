#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# drain-node: on the first control plane, drain and delete a node that is being removed.
# Parameters: NODE_NAME (the node to remove). A node that is already gone counts as success.
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
fi
ML_STEP="drain-node"

require_param NODE_NAME
[[ -f ${ADMIN_CONF} ]] ||
    die "/etc/kubernetes/admin.conf not found: run this on an initialised control plane"

node_present() {
    local found
    found=$(retry 5 5 kubectl --kubeconfig "${ADMIN_CONF}" get node "${NODE_NAME}" \
        --ignore-not-found -o name) || die "cannot query node ${NODE_NAME} from the API server"
    [[ -n ${found} ]]
}

if ! node_present; then
    log "node ${NODE_NAME} is not in the cluster; nothing to do"
    exit 0
fi

log "draining node ${NODE_NAME}"
if ! timeout --kill-after=10 360 kubectl --kubeconfig "${ADMIN_CONF}" drain "${NODE_NAME}" \
    --ignore-daemonsets --delete-emptydir-data --timeout=300s >&2; then
    if ! node_present; then
        log "node ${NODE_NAME} disappeared during the drain; nothing left to do"
        exit 0
    fi
    die "kubectl drain ${NODE_NAME} did not finish (PodDisruptionBudgets or stuck pods?); fix" \
        "that, or drain it by hand, then run the removal again"
fi

retry 5 5 kubectl --kubeconfig "${ADMIN_CONF}" delete node "${NODE_NAME}" --ignore-not-found >&2 ||
    die "cannot delete node ${NODE_NAME}"
log "node ${NODE_NAME} drained and deleted"
