#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# reset-node: on a node being removed, undo kubeadm init/join: `kubeadm reset -f` (on a control
# plane this also removes its etcd member), clear /etc/cni/net.d, remove the control-plane
# secrets this project wrote, restart containerd. A no-op when the node never joined.
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
fi
ML_STEP="reset-node"

member=false
for path in "${KUBE_DIR}/kubelet.conf" "${KUBE_DIR}/bootstrap-kubelet.conf" "${ADMIN_CONF}" \
    "${KUBE_DIR}/manifests/kube-apiserver.yaml" "${KUBE_DIR}/manifests/etcd.yaml" \
    "${KUBE_DIR}/pki/ca.crt" "${ROOT:-}/var/lib/kubelet/config.yaml"; do
    if [[ -e ${path} ]]; then
        member=true
        break
    fi
done

SNAPSHOT_TIMER="${ROOT:-}/etc/systemd/system/ml-platform-etcd-snapshot.timer"
if [[ -f ${SNAPSHOT_TIMER} ]]; then
    log "removing the etcd snapshot timer"
    systemctl disable --now ml-platform-etcd-snapshot.timer >&2 || true
    rm -f -- "${SNAPSHOT_TIMER}" "${ROOT:-}/etc/systemd/system/ml-platform-etcd-snapshot.service" \
        "${ROOT:-}/usr/local/sbin/ml-platform-etcd-snapshot"
    systemctl daemon-reload
fi

if [[ ${member} == false ]]; then
    log "this node never joined a cluster (or was reset already); nothing to do"
    exit 0
fi

log "running kubeadm reset -f"
run_kubeadm reset -f || die "kubeadm reset -f failed (the output is above)"
CNI_DIR="${ROOT:-}/etc/cni/net.d"
if [[ -d ${CNI_DIR} ]]; then
    find "${CNI_DIR}" -mindepth 1 -delete
fi
rm -rf -- "${KUBE_DIR}/encryption" "${KUBE_DIR}/audit" "${KUBE_DIR}/kube-vip.yaml.pending"
systemctl restart containerd
log "node reset"
