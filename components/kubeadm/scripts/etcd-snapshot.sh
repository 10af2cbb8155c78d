#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# etcd-snapshot: install a daily snapshot of the local stacked etcd member on a control plane:
#   /usr/local/sbin/ml-platform-etcd-snapshot, ml-platform-etcd-snapshot.service and .timer.
# The snapshot runs etcdctl inside the etcd container (crictl exec; etcdctl is not on the host),
# which can only write under /var/lib/etcd (the one host directory mounted into the etcd pod); the
# file is then moved to /var/lib/ml-platform/etcd-snapshots/etcd-<host>-<UTC timestamp>.db (0600,
# directory 0700), outside the data directory that `kubeadm reset` empties, and snapshots older
# than RETENTION_DAYS are deleted.
# Parameters: RETENTION_DAYS (default 7).
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
fi
ML_STEP="etcd-snapshot"

: "${RETENTION_DAYS:=7}"
[[ ${RETENTION_DAYS} =~ ^[1-9][0-9]{0,3}$ ]] ||
    die "RETENTION_DAYS must be a positive number of days, got \"${RETENTION_DAYS}\""
if [[ ! -f "${KUBE_DIR}/manifests/etcd.yaml" ]]; then
    warn "no local etcd static pod (yet): snapshots only work on an initialised control plane"
fi

SNAPSHOT_BIN="${ROOT:-}/usr/local/sbin/ml-platform-etcd-snapshot"
UNIT_DIR="${ROOT:-}/etc/systemd/system"

snapshot_script=$(
    cat <<'SCRIPT'
#!/usr/bin/env bash
# ml-platform-etcd-snapshot: snapshot the local kubeadm (stacked) etcd member, prune old snapshots.
# Installed by ml-platform (etcd-snapshot step); local changes are overwritten.
set -euo pipefail
RETENTION_DAYS=@RETENTION_DAYS@
SNAPSHOT_DIR=/var/lib/ml-platform/etcd-snapshots
# Written by etcd inside its container, then moved out of the data directory.
STAGING=/var/lib/etcd/.ml-platform-snapshot.db
PKI=/etc/kubernetes/pki/etcd
CRI_ENDPOINT=unix:///run/containerd/containerd.sock

log() {
    printf 'ml-platform-etcd-snapshot: %s\n' "$*" >&2
}

container=$(crictl --runtime-endpoint "${CRI_ENDPOINT}" ps --name '^etcd$' --state running --quiet)
container=${container%%$'\n'*}
if [[ -z ${container} ]]; then
    log "no running etcd container on this host"
    exit 1
fi

mkdir -p -- "${ROOT:-}${SNAPSHOT_DIR}"
chmod 0700 "${ROOT:-}${SNAPSHOT_DIR}"
name="etcd-$(hostname)-$(date -u +%Y%m%dT%H%M%SZ).db"
staging="${ROOT:-}${STAGING}"
rm -f -- "${staging}"
# /var/lib/etcd is mounted into the etcd pod at the same path, so the file lands on the host.
crictl --runtime-endpoint "${CRI_ENDPOINT}" exec "${container}" etcdctl \
    --endpoints=https://127.0.0.1:2379 --cacert="${PKI}/ca.crt" \
    --cert="${PKI}/healthcheck-client.crt" --key="${PKI}/healthcheck-client.key" \
    snapshot save "${STAGING}" >&2
if [[ ! -s ${staging} ]]; then
    log "etcdctl reported success but ${STAGING} is missing or empty"
    exit 1
fi
snapshot="${ROOT:-}${SNAPSHOT_DIR}/${name}"
chmod 0600 "${staging}"
mv -f -- "${staging}" "${snapshot}"
log "saved ${SNAPSHOT_DIR}/${name}"

find "${ROOT:-}${SNAPSHOT_DIR}" -maxdepth 1 -type f -name 'etcd-*.db*' \
    -mmin "+$((RETENTION_DAYS * 24 * 60))" -print -delete >&2
SCRIPT
)
snapshot_script=${snapshot_script//@RETENTION_DAYS@/${RETENTION_DAYS}}

changed=false
if write_file "${SNAPSHOT_BIN}" 0755 <<<"${snapshot_script}"; then
    changed=true
fi
if write_file "${UNIT_DIR}/ml-platform-etcd-snapshot.service" 0644 <<'UNIT'; then
[Unit]
Description=ml-platform: snapshot the local etcd member
After=containerd.service kubelet.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/ml-platform-etcd-snapshot
Nice=10
IOSchedulingClass=idle
UNIT
    changed=true
fi
if write_file "${UNIT_DIR}/ml-platform-etcd-snapshot.timer" 0644 <<'UNIT'; then
[Unit]
Description=ml-platform: daily etcd snapshot

[Timer]
OnCalendar=daily
RandomizedDelaySec=1h
Persistent=true

[Install]
WantedBy=timers.target
UNIT
    changed=true
fi

if [[ ${changed} == true ]]; then
    systemctl daemon-reload
    systemctl enable --now ml-platform-etcd-snapshot.timer >&2
    log "etcd snapshot timer installed (retention ${RETENTION_DAYS} days)"
else
    ensure_enabled ml-platform-etcd-snapshot.timer --now
    log "etcd snapshot timer already installed"
fi
