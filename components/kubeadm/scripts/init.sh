#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# init: `kubeadm init` on the init host, with the cluster CA the program generated.
# Parameters: NODE_NAME, KUBEADM_CONFIG_B64 (InitConfiguration + ClusterConfiguration +
#   KubeletConfiguration + KubeProxyConfiguration), CA_CERT_B64 and CA_KEY_B64 (the cluster CA),
#   ENCRYPTION_CONFIG_B64, AUDIT_POLICY_B64, ETCD_PATCH_B64 (this node's etcd patch), optional
#   KUBE_VIP_MANIFEST_B64 (kube-vip using super-admin.conf, in place during init) and
#   KUBE_VIP_FINAL_MANIFEST_B64 (kube-vip using admin.conf, after init), CONTROL_PLANE_ENDPOINT
#   (host:port of the API for the whole cluster).
# Skips kubeadm init when /etc/kubernetes/admin.conf exists. kubeadm keeps a CA it finds in
# /etc/kubernetes/pki (certificate and key both present), so every join can pin it.
# Refuses to init when an API server with the cluster's CA already answers on the cluster's
# endpoint: the init host's machine was replaced while the cluster runs on the other control
# planes, and a second `kubeadm init` would start another cluster.
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
fi
ML_STEP="init"

require_param NODE_NAME KUBEADM_CONFIG_B64 CA_CERT_B64 CA_KEY_B64 ENCRYPTION_CONFIG_B64 \
    AUDIT_POLICY_B64
KUBE_VIP_MANIFEST="${KUBE_DIR}/manifests/kube-vip.yaml"
CA_CERT="${KUBE_DIR}/pki/ca.crt"
mkdir -p -- "${KUBE_DIR}/manifests"

initialised=false
if [[ -f ${ADMIN_CONF} ]]; then
    initialised=true
fi

if [[ ${initialised} == true ]]; then
    wanted_ca=$(decode_b64_param CA_CERT_B64) || exit 1
    if [[ ! -f ${CA_CERT} || "$(cat -- "${CA_CERT}")" != "${wanted_ca}" ]]; then
        die "this cluster's CA (/etc/kubernetes/pki/ca.crt) is not the CA in the stack's state:" \
            "joins pin the stack's CA and would be refused. The cluster was not initialised by" \
            "this stack (or its state was lost); nothing was changed"
    fi
fi

if write_control_plane_files && [[ ${initialised} == true ]]; then
    warn "the encryption config changed on an initialised control plane; kube-apiserver reloads" \
        "it only if automatic reload is enabled, otherwise restart it"
fi
write_etcd_patch

if [[ ${initialised} == true ]]; then
    log "already initialised (/etc/kubernetes/admin.conf exists); skipping kubeadm init"
else
    check_no_leftovers "run kubeadm init"
    require_param CONTROL_PLANE_ENDPOINT
    ca_check=""
    secret_file CA_CERT_B64 ca_check
    if curl -fsS --max-time 10 --cacert "${ca_check}" -o /dev/null \
        "https://${CONTROL_PLANE_ENDPOINT}/version" 2>/dev/null; then
        die "an API server with this cluster's CA already answers on ${CONTROL_PLANE_ENDPOINT}:" \
            "the cluster runs on its other control planes, and kubeadm init here would start" \
            "another one. Name a running control plane as the init host (baremetal.initHost)," \
            "pulumi up, then add this machine back as a joining member"
    fi
    rm -f -- "${ca_check}"
    mkdir -p -- "${KUBE_DIR}/pki"
    write_b64_param CA_CERT_B64 "${CA_CERT}" 0644 || true
    write_b64_param CA_KEY_B64 "${KUBE_DIR}/pki/ca.key" 0600 || true
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
        die "kubeadm init exited with status ${rc}"
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
