#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# join: `kubeadm join` a worker or an additional control plane.
# Parameters: NODE_NAME, JOIN_CONFIG_B64 (JoinConfiguration + KubeletConfiguration; holds this
#   node's own token, the pin of the cluster CA and, for control planes, the certificate key),
#   CONTROL_PLANE (true|false); for control planes also ENCRYPTION_CONFIG_B64, AUDIT_POLICY_B64,
#   ETCD_PATCH_B64 and optional KUBE_VIP_MANIFEST_B64.
# Skips the join when /etc/kubernetes/kubelet.conf exists. The token is minted on the init host
# by this node's admit step just before, and deleted by its drain step once the node joined.
#
# kubeadm join's preflight requires an empty /etc/kubernetes/manifests, so the kube-vip static pod
# is put in place after the join (the VIP is already served by the existing control planes).
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
fi
ML_STEP="join"

require_param NODE_NAME JOIN_CONFIG_B64 CONTROL_PLANE
require_bool CONTROL_PLANE
KUBE_VIP_MANIFEST="${KUBE_DIR}/manifests/kube-vip.yaml"
KUBE_VIP_PENDING="${KUBE_DIR}/kube-vip.yaml.pending"

if [[ ${CONTROL_PLANE} == true ]]; then
    write_control_plane_files || true
    write_etcd_patch
fi

# One attempt; a failed attempt is reset so the next one passes kubeadm's preflight checks.
join_once() {
    local rc=0
    run_kubeadm join --config "$1" || rc=$?
    if ((rc == 0)); then
        return 0
    fi
    log "kubeadm join exited with status ${rc}; resetting before the next attempt"
    run_kubeadm reset -f || true
    return "${rc}"
}

# The token was refused (expired, or deleted): retrying cannot help.
token_refused() {
    [[ -n ${ML_OUTPUT_LOG:-} && -f "${ROOT:-}${ML_OUTPUT_LOG}" ]] &&
        grep -q "is invalid for this cluster or it has expired" "${ROOT:-}${ML_OUTPUT_LOG}"
}

if [[ -f "${KUBE_DIR}/kubelet.conf" ]]; then
    log "already joined (/etc/kubernetes/kubelet.conf exists); skipping kubeadm join"
else
    check_no_leftovers "run kubeadm join"
    if [[ -f ${KUBE_VIP_MANIFEST} ]]; then
        log "moving kube-vip.yaml out of /etc/kubernetes/manifests until the join is done"
        mv -f -- "${KUBE_VIP_MANIFEST}" "${KUBE_VIP_PENDING}"
    fi
    join_config=""
    secret_file JOIN_CONFIG_B64 join_config
    log "running kubeadm join (control plane: ${CONTROL_PLANE})"
    if ! retry 4 15 join_once "${join_config}"; then
        rm -f -- "${join_config}"
        if token_refused; then
            die "the API server refused this node's join token: it was minted by the node's" \
                "admit step and lives until the node joins (72 hours at most). Mint a new one:" \
                "pulumi up --replace <URN of admit-${NODE_NAME}> (pulumi stack --show-urns)"
        fi
        die "kubeadm join failed after 4 attempts"
    fi
    rm -f -- "${join_config}"
    [[ -f "${KUBE_DIR}/kubelet.conf" ]] || die "kubeadm join succeeded but kubelet.conf is missing"
    log "kubeadm join done"
fi

if [[ ${CONTROL_PLANE} == true && -n ${KUBE_VIP_MANIFEST_B64:-} ]]; then
    write_b64_param KUBE_VIP_MANIFEST_B64 "${KUBE_VIP_MANIFEST}" 0600 || true
    rm -f -- "${KUBE_VIP_PENDING}"
elif [[ -f ${KUBE_VIP_PENDING} ]]; then
    mkdir -p -- "${KUBE_DIR}/manifests"
    mv -f -- "${KUBE_VIP_PENDING}" "${KUBE_VIP_MANIFEST}"
    log "kube-vip.yaml restored"
fi
log "node joined"
