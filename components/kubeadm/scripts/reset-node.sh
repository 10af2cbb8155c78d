#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# reset-node: on a node being removed (after its drain, before its Node object is deleted), undo
# kubeadm init/join: `kubeadm reset -f`, clear /etc/cni/net.d, remove the control-plane secrets
# and patches this project wrote, restart containerd. A no-op when the node never joined.
# On a control plane, kubeadm reset's remove-etcd-member phase leaves etcd only while the Node
# object exists: it reads the node's registration from the API (GetNodeRegistration gets the
# Node) and, without it, skips the member removal and empties the data directory anyway
# (kubernetes/kubernetes cmd/kubeadm/app/cmd/phases/reset/removeetcdmember.go,
# cmd/kubeadm/app/util/config/cluster.go). Hence drain, reset, then delete the Node.
# etcd snapshots are kept: they live outside the etcd data directory, which reset empties.
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
run_kubeadm reset -f || die "kubeadm reset -f failed"
CNI_DIR="${ROOT:-}/etc/cni/net.d"
if [[ -d ${CNI_DIR} ]]; then
    find "${CNI_DIR}" -mindepth 1 -delete
fi
rm -rf -- "${KUBE_DIR}/encryption" "${KUBE_DIR}/audit" "${KUBE_DIR}/kube-vip.yaml.pending" \
    "${PATCHES_DIR}"
systemctl restart containerd
log "node reset"
