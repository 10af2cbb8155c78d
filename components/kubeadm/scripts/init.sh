#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# init: `kubeadm init` on the first control plane.
# Parameters: NODE_NAME, KUBEADM_CONFIG_B64 (InitConfiguration + ClusterConfiguration +
#   KubeletConfiguration; holds the bootstrap token and certificate key), ENCRYPTION_CONFIG_B64,
#   AUDIT_POLICY_B64, optional KUBE_VIP_MANIFEST_B64 (kube-vip using super-admin.conf, in place
#   during init) and KUBE_VIP_FINAL_MANIFEST_B64 (kube-vip using admin.conf, after init).
# Skips kubeadm init when /etc/kubernetes/admin.conf exists.
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
fi
ML_STEP="init"

require_param NODE_NAME KUBEADM_CONFIG_B64 ENCRYPTION_CONFIG_B64 AUDIT_POLICY_B64
KUBE_VIP_MANIFEST="${KUBE_DIR}/manifests/kube-vip.yaml"
mkdir -p -- "${KUBE_DIR}/manifests"

initialised=false
if [[ -f ${ADMIN_CONF} ]]; then
    initialised=true
fi

if write_control_plane_files && [[ ${initialised} == true ]]; then
    warn "the encryption config changed on an initialised control plane; kube-apiserver reloads" \
        "it only if automatic reload is enabled, otherwise restart it"
fi

if [[ ${initialised} == true ]]; then
    log "already initialised (/etc/kubernetes/admin.conf exists); skipping kubeadm init"
else
    check_no_leftovers "run kubeadm init"
    if [[ -n ${KUBE_VIP_MANIFEST_B64:-} ]]; then
        # During init only super-admin.conf has rights yet (kube-vip issue #684).
        write_b64_param KUBE_VIP_MANIFEST_B64 "${KUBE_VIP_MANIFEST}" 0600 || true
    fi
    kubeadm_config=""
    secret_file KUBEADM_CONFIG_B64 kubeadm_config
    log "running kubeadm init"
    rc=0
    run_kubeadm init --config "${kubeadm_config}" --upload-certs || rc=$?
    rm -f -- "${kubeadm_config}"
    if ((rc != 0)); then
        log "kubeadm init failed; resetting the node so that the step can simply be run again"
        run_kubeadm reset -f || warn "kubeadm reset -f failed too"
        die "kubeadm init exited with status ${rc} (its output is above)"
    fi
    [[ -f ${ADMIN_CONF} ]] || die "kubeadm init succeeded but /etc/kubernetes/admin.conf is missing"
    log "kubeadm init done"
fi

if [[ -n ${KUBE_VIP_FINAL_MANIFEST_B64:-} ]]; then
    if write_b64_param KUBE_VIP_FINAL_MANIFEST_B64 "${KUBE_VIP_MANIFEST}" 0600; then
        log "kube-vip now uses admin.conf"
    fi
fi
log "control plane initialised"
