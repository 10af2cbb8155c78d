#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# fetch-etcd-snapshot: copy an etcd snapshot the etcd-backups add-on shipped back from the
# object store into /var/lib/ml-platform/etcd-snapshots of this control plane, decrypted, for
# restore-etcd (when this host's own snapshots are gone, or to restore every member from the
# same one). Run by hand, on stdin of `sudo bash -s` (tools/etcd_restore.py prints the bundle).
#
# rclone runs in the pinned rclone image through containerd's `ctr` (nothing is installed on
# the host), with the bucket's keys and the passphrase in an environment file (0600, removed
# when the step ends), never on a command line. The endpoint must be reachable from the host
# (an in-cluster store: its Service's cluster IP).
# Parameters: NODE_NAME; STORE_ENDPOINT, STORE_REGION, BUCKET; FROM_HOST (whose snapshots:
# the control plane that shipped them); SNAPSHOT (a name, or latest); RCLONE_IMAGE;
# AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, PASSPHRASE (secrets).
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
fi
ML_STEP="fetch-etcd-snapshot"

require_param NODE_NAME STORE_ENDPOINT STORE_REGION BUCKET FROM_HOST RCLONE_IMAGE \
    AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY PASSPHRASE
: "${SNAPSHOT:=latest}"
[[ ${STORE_ENDPOINT} =~ ^https?://[A-Za-z0-9.:-]+/?$ ]] || die "STORE_ENDPOINT must be http(s)://host[:port]"
[[ ${BUCKET} =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || die "BUCKET is not an S3 bucket name"
[[ ${FROM_HOST} =~ ^[a-z0-9][a-z0-9.-]*$ ]] || die "FROM_HOST is not a host name"
[[ ${SNAPSHOT} == latest || ${SNAPSHOT} =~ ^etcd-[A-Za-z0-9.-]+\.db$ ]] ||
    die "SNAPSHOT must be latest or a file name etcd-<...>.db"
[[ ${RCLONE_IMAGE} =~ @sha256:[0-9a-f]{64}$ ]] || die "RCLONE_IMAGE must be pinned by digest"
provider=Other
if [[ ${STORE_ENDPOINT} =~ ^https://[^/]*\.amazonaws\.com ]]; then
    provider=AWS
fi

SNAPSHOT_DIR="${ROOT:-}/var/lib/ml-platform/etcd-snapshots"
mkdir -p -- "${SNAPSHOT_DIR}"
chmod 0700 "${SNAPSHOT_DIR}"
env_file=$(umask 077 && mktemp "${ROOT:-}/var/lib/ml-platform/.ml-platform-fetch.XXXXXX")
cleanup_later "${env_file}"
{
    printf 'AWS_ACCESS_KEY_ID=%s\n' "${AWS_ACCESS_KEY_ID}"
    printf 'AWS_SECRET_ACCESS_KEY=%s\n' "${AWS_SECRET_ACCESS_KEY}"
    printf 'PASSPHRASE=%s\n' "${PASSPHRASE}"
    printf 'RCLONE_CONFIG_STORE_TYPE=s3\nRCLONE_CONFIG_STORE_PROVIDER=%s\n' "${provider}"
    printf 'RCLONE_CONFIG_STORE_ENV_AUTH=true\nRCLONE_CONFIG_STORE_NO_CHECK_BUCKET=true\n'
    printf 'RCLONE_CONFIG_STORE_ENDPOINT=%s\nRCLONE_CONFIG_STORE_REGION=%s\n' "${STORE_ENDPOINT}" "${STORE_REGION}"
    printf 'RCLONE_CONFIG_SNAPSHOTS_TYPE=crypt\n'
    printf 'RCLONE_CONFIG_SNAPSHOTS_REMOTE=store:%s/etcd/%s\n' "${BUCKET}" "${FROM_HOST}"
    printf 'SNAPSHOT=%s\nHOME=/tmp\n' "${SNAPSHOT}"
} >"${env_file}"

# Inside the container: the passphrase reaches rclone on stdin; the newest name sorts last
# (etcd-<host>-<UTC time>.db).
# shellcheck disable=SC2016 # expanded by the container's shell
fetch='set -eu
RCLONE_CONFIG_SNAPSHOTS_PASSWORD=$(printf "%s\n" "$PASSPHRASE" | rclone obscure -)
export RCLONE_CONFIG_SNAPSHOTS_PASSWORD
unset PASSPHRASE
name=$SNAPSHOT
if [ "$name" = latest ]; then
    name=$(rclone lsf snapshots: --include "etcd-*.db" | sort | tail -n 1)
fi
[ -n "$name" ] || { echo "no snapshot in the bucket" >&2; exit 1; }
rclone copy "snapshots:$name" /snapshots/ -v
chmod 0600 "/snapshots/$name"
echo "$name"'

log "pulling ${RCLONE_IMAGE%@*}"
retry 3 5 ctr --namespace k8s.io images pull "${RCLONE_IMAGE}" >/dev/null ||
    die "cannot pull ${RCLONE_IMAGE}"
name=$(ctr --namespace k8s.io run --rm --net-host --env-file "${env_file}" \
    --mount "type=bind,src=${SNAPSHOT_DIR},dst=/snapshots,options=rbind:rw" \
    "${RCLONE_IMAGE}" "ml-platform-etcd-fetch-$$" /bin/sh -c "${fetch}") ||
    die "rclone could not fetch the snapshot (endpoint, keys, passphrase, FROM_HOST?)"
name=${name##*$'\n'}
[[ -s "${SNAPSHOT_DIR}/${name}" ]] || die "the snapshot ${name} did not arrive"
log "fetched ${name} into /var/lib/ml-platform/etcd-snapshots: restore with SNAPSHOT=${name}"
printf '%s\n' "${name}"
