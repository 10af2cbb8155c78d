#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# restore-etcd: restore this control plane's stacked etcd member from a snapshot, as one step
# of restoring the whole etcd cluster from one snapshot (every control plane, one after the
# other, with the same SNAPSHOT; docs/operations/backup-restore.md). Run by hand, on stdin of
# `sudo bash -s` (tools/etcd_restore.py prints the bundle).
#
# What it does (the Kubernetes documentation, "Operating etcd clusters for Kubernetes",
# "Restoring an etcd cluster", for a kubeadm stacked member):
#   1. stops etcd and the API server of this host (their static pod manifests moved aside);
#   2. restores the snapshot into a new data directory with `etcdutl snapshot restore`, run
#      from the etcd image this host already has (containerd's `ctr`; etcdutl is not on the
#      host), with this member's name and peer URL (read from its manifest), the cluster's
#      members (INITIAL_CLUSTER) and a cluster token made from the snapshot's name (the same
#      on every member);
#   3. swaps the new member directory in (the old one kept in
#      /var/lib/etcd-before-restore-<time>) and puts the manifests back.
# Everything else under /var/lib/etcd stays as it is; the snapshots are outside it.
# Parameters: NODE_NAME; INITIAL_CLUSTER (cp-1=https://10.0.0.11:2380,...: every member);
# SNAPSHOT (a file name in /var/lib/ml-platform/etcd-snapshots; default: the newest there);
# CONFIRM=restore-<NODE_NAME> (this stops the control plane); WAIT_SECONDS (default 180).
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
fi
ML_STEP="restore-etcd"

require_param NODE_NAME INITIAL_CLUSTER
: "${SNAPSHOT:=}"
: "${CONFIRM:=}"
: "${WAIT_SECONDS:=180}"
[[ ${CONFIRM} == "restore-${NODE_NAME}" ]] ||
    die "this stops etcd and the API server on ${NODE_NAME}: set CONFIRM=restore-${NODE_NAME}"
[[ ${WAIT_SECONDS} =~ ^[0-9]{1,4}$ ]] || die "WAIT_SECONDS must be a number of seconds"
[[ ${INITIAL_CLUSTER} =~ ^[a-z0-9.-]+=https://[A-Za-z0-9.:-]+(,[a-z0-9.-]+=https://[A-Za-z0-9.:-]+)*$ ]] ||
    die "INITIAL_CLUSTER must be name=https://address:2380,... for every member, got \"${INITIAL_CLUSTER}\""

SNAPSHOT_DIR="${ROOT:-}/var/lib/ml-platform/etcd-snapshots"
MANIFESTS="${KUBE_DIR}/manifests"
ASIDE="${KUBE_DIR}/manifests-restore"
ETCD_MANIFEST="${MANIFESTS}/etcd.yaml"
CRI_ENDPOINT=unix:///run/containerd/containerd.sock

# A flag of the etcd static pod: `--name=cp-1` gives cp-1.
manifest_flag() {
    awk -v flag="--$1=" 'index($0, flag) { sub(".*" flag, ""); gsub(/["\047 ]/, ""); print; exit }' \
        "$2"
}

manifest=${ETCD_MANIFEST}
[[ -f ${manifest} ]] || manifest="${ASIDE}/etcd.yaml"
[[ -f ${manifest} ]] || die "no etcd static pod manifest on this host: is it a control plane?"
member=$(manifest_flag name "${manifest}")
peer_url=$(manifest_flag initial-advertise-peer-urls "${manifest}")
data_dir=$(manifest_flag data-dir "${manifest}")
image=$(awk '$1 == "image:" { print $2; exit }' "${manifest}")
[[ -n ${member} && -n ${peer_url} && -n ${data_dir} && -n ${image} ]] ||
    die "cannot read the member's name, peer URL, data directory and image from ${manifest#"${ROOT:-}"}"
[[ ${data_dir} == /var/lib/etcd ]] ||
    die "etcd's data directory is ${data_dir}, not /var/lib/etcd: restore it by hand"
[[ ",${INITIAL_CLUSTER}," == *",${member}=${peer_url},"* ]] ||
    die "INITIAL_CLUSTER does not name this member as ${member}=${peer_url}"

if [[ -z ${SNAPSHOT} ]]; then
    SNAPSHOT=$(find "${SNAPSHOT_DIR}" -maxdepth 1 -type f -name 'etcd-*.db' -printf '%T@ %f\n' 2>/dev/null |
        sort -n | tail -n 1 | cut -d' ' -f2)
    [[ -n ${SNAPSHOT} ]] || die "no snapshot in /var/lib/ml-platform/etcd-snapshots; fetch one first (fetch-etcd-snapshot)"
fi
[[ ${SNAPSHOT} =~ ^etcd-[A-Za-z0-9.-]+\.db$ ]] || die "SNAPSHOT must be a file name etcd-<...>.db, got \"${SNAPSHOT}\""
[[ -s "${SNAPSHOT_DIR}/${SNAPSHOT}" ]] || die "/var/lib/ml-platform/etcd-snapshots/${SNAPSHOT} is missing or empty"
token="restore-${SNAPSHOT%.db}"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
log "restoring member ${member} (${peer_url}) from ${SNAPSHOT}"

# 1. etcd and the API server stop when their manifests leave the kubelet's directory.
mkdir -p -- "${ASIDE}"
for pod in etcd kube-apiserver; do
    if [[ -f "${MANIFESTS}/${pod}.yaml" ]]; then
        mv -f -- "${MANIFESTS}/${pod}.yaml" "${ASIDE}/${pod}.yaml"
    fi
done
waited=0
while [[ -n $(crictl --runtime-endpoint "${CRI_ENDPOINT}" ps --name '^etcd$' --state running --quiet) ]]; do
    ((waited < WAIT_SECONDS)) || die "etcd still runs ${WAIT_SECONDS}s after its manifest was moved aside"
    sleep 5
    waited=$((waited + 5))
done

# 2. The snapshot into a new data directory, with the etcd image's etcdutl.
restored="/var/lib/etcd-restore-${stamp}"
ctr --namespace k8s.io run --rm --net-host \
    --mount "type=bind,src=${ROOT:-}/var/lib,dst=/var/lib,options=rbind:rw" \
    "${image}" "ml-platform-etcd-restore-${stamp}" \
    etcdutl snapshot restore "/var/lib/ml-platform/etcd-snapshots/${SNAPSHOT}" \
    --name "${member}" --initial-cluster "${INITIAL_CLUSTER}" \
    --initial-cluster-token "${token}" --initial-advertise-peer-urls "${peer_url}" \
    --data-dir "${restored}" >&2
[[ -d "${ROOT:-}${restored}/member" ]] || die "etcdutl left no member directory in ${restored}"

# 3. The restored member in place of the old one; the manifests back.
before="${ROOT:-}/var/lib/etcd-before-restore-${stamp}"
mkdir -p -- "${before}"
if [[ -d "${ROOT:-}/var/lib/etcd/member" ]]; then
    mv -- "${ROOT:-}/var/lib/etcd/member" "${before}/member"
fi
mv -- "${ROOT:-}${restored}/member" "${ROOT:-}/var/lib/etcd/member"
rmdir -- "${ROOT:-}${restored}" 2>/dev/null || true
chmod 0700 "${ROOT:-}/var/lib/etcd/member"
for pod in etcd kube-apiserver; do
    if [[ -f "${ASIDE}/${pod}.yaml" ]]; then
        mv -f -- "${ASIDE}/${pod}.yaml" "${MANIFESTS}/${pod}.yaml"
    fi
done
log "member ${member} restored from ${SNAPSHOT} (the old member is in ${before#"${ROOT:-}"});" \
    "restore every other control plane from the same snapshot, then check kubectl get nodes"
