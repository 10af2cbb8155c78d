#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# drain-node: on the init host, first step of a node's removal (then `kubeadm reset` on the node,
# which leaves etcd while its Node object still exists, then the Node is deleted).
# A Ready node is drained respecting PodDisruptionBudgets; a failure stops the removal. A node
# whose kubelet is unreachable (Ready is not True) is drained without waiting for its pods to
# terminate (they cannot), bounded in time: a dead host can be removed.
# Parameters: NODE_NAME (this host), TARGET_NODE (the node to drain), SELF (true|false).
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
fi
ML_STEP="drain-node"

require_param TARGET_NODE SELF
require_bool SELF
if [[ ${SELF} == true ]]; then
    log "${TARGET_NODE} is the init host, the last member to leave: nothing to drain it to"
    exit 0
fi
[[ -f ${ADMIN_CONF} ]] ||
    die "/etc/kubernetes/admin.conf not found: run this on an initialised control plane"

ready=$(node_ready "${TARGET_NODE}") || die "cannot ask the API server about node ${TARGET_NODE}"
if [[ -z ${ready} ]]; then
    log "node ${TARGET_NODE} is not in the cluster; nothing to drain"
    exit 0
fi

if [[ ${ready} == True ]]; then
    log "draining node ${TARGET_NODE}"
    if ! timeout --kill-after=10 360 kubectl --kubeconfig "${ADMIN_CONF}" drain "${TARGET_NODE}" \
        --ignore-daemonsets --delete-emptydir-data --timeout=300s >&2; then
        if [[ -z $(node_ready "${TARGET_NODE}") ]]; then
            log "node ${TARGET_NODE} disappeared during the drain; nothing left to do"
            exit 0
        fi
        die "kubectl drain ${TARGET_NODE} did not finish (PodDisruptionBudgets or stuck pods?);" \
            "fix that, or drain it by hand, then run the removal again"
    fi
    log "node ${TARGET_NODE} drained"
    exit 0
fi

# The kubelet does not answer: its pods can never confirm their end. Evict them (their
# controllers start replacements elsewhere), do not wait for them, and bound the whole drain.
warn "node ${TARGET_NODE} is not Ready (${ready}): its kubelet is unreachable; draining" \
    "without waiting for its pods to terminate"
if ! timeout --kill-after=10 200 kubectl --kubeconfig "${ADMIN_CONF}" drain "${TARGET_NODE}" \
    --ignore-daemonsets --delete-emptydir-data --force --skip-wait-for-delete-timeout=1 \
    --timeout=180s >&2; then
    warn "the drain of unreachable node ${TARGET_NODE} did not complete in 3 minutes; its" \
        "remaining pods go with its Node object"
fi
