#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# remove-node: on the init host, last step of a node's removal (after the drain and the node's
# own `kubeadm reset`): for a control plane, remove its etcd member if it is still listed (the
# reset could not reach a dead host, or found no Node), from this host's live etcd member; then
# delete the Node object.
# Parameters: NODE_NAME (this host), TARGET_NODE, CONTROL_PLANE (true|false), SELF (true|false).
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
fi
ML_STEP="remove-node"

require_param TARGET_NODE SELF CONTROL_PLANE
require_bool SELF
require_bool CONTROL_PLANE
if [[ ${SELF} == true ]]; then
    log "${TARGET_NODE} is the init host, the last member: the cluster goes with it"
    exit 0
fi
[[ -f ${ADMIN_CONF} ]] ||
    die "/etc/kubernetes/admin.conf not found: run this on an initialised control plane"

CRI_ENDPOINT=unix:///run/containerd/containerd.sock
PKI=/etc/kubernetes/pki/etcd
etcdctl_local() {
    local container
    container=$(crictl --runtime-endpoint "${CRI_ENDPOINT}" ps --name '^etcd$' --state running --quiet)
    container=${container%%$'\n'*}
    [[ -n ${container} ]] || return 1
    crictl --runtime-endpoint "${CRI_ENDPOINT}" exec "${container}" etcdctl \
        --endpoints=https://127.0.0.1:2379 --cacert="${PKI}/ca.crt" \
        --cert="${PKI}/healthcheck-client.crt" --key="${PKI}/healthcheck-client.key" "$@"
}

if [[ ${CONTROL_PLANE} == true ]]; then
    members=$(retry 5 5 etcdctl_local member list) ||
        die "cannot list the etcd members from this control plane's etcd"
    # member list: ID, STATUS, NAME, PEER ADDRS, CLIENT ADDRS, IS LEARNER (comma separated).
    member=$(awk -F', ' -v name="${TARGET_NODE}" '$3 == name { print $1 }' <<<"${members}")
    if [[ -n ${member} ]]; then
        log "etcd member ${TARGET_NODE} (${member}) is still listed: removing it"
        retry 5 5 etcdctl_local member remove "${member}" >&2 ||
            die "cannot remove etcd member ${TARGET_NODE} (${member})"
    else
        log "etcd member ${TARGET_NODE} is gone already (kubeadm reset removed it)"
    fi
fi

retry 5 5 kubectl --kubeconfig "${ADMIN_CONF}" delete node "${TARGET_NODE}" --ignore-not-found >&2 ||
    die "cannot delete node ${TARGET_NODE}"
log "node ${TARGET_NODE} removed"
