#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# join: `kubeadm join` a worker or an additional control plane.
# Parameters: NODE_NAME, JOIN_CONFIG_B64 (JoinConfiguration + KubeletConfiguration; holds the token
#   and, for control planes, the certificate key), CONTROL_PLANE (true|false); for control planes
#   also ENCRYPTION_CONFIG_B64, AUDIT_POLICY_B64 and optional KUBE_VIP_MANIFEST_B64.
# Skips the join when /etc/kubernetes/kubelet.conf exists.
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
        die "kubeadm join failed after 4 attempts (the output is above)"
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
