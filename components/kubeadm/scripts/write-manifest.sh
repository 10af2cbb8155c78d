#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# write-manifest: write one file (e.g. the kube-vip static pod) idempotently, mode 0600.
# Parameters: MANIFEST_PATH (absolute host path), MANIFEST_B64 (the content, base64).
#
# Note: `kubeadm join` refuses a non-empty /etc/kubernetes/manifests; join.sh moves a kube-vip.yaml
# written here aside during the join and puts it back afterwards.
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
fi
ML_STEP="write-manifest"

require_param MANIFEST_PATH MANIFEST_B64
if [[ ${MANIFEST_PATH} != /* || ${MANIFEST_PATH} == *..* ]]; then
    die "MANIFEST_PATH must be an absolute path without '..', got \"${MANIFEST_PATH}\""
fi
if write_b64_param MANIFEST_B64 "${ROOT:-}${MANIFEST_PATH}" 0600; then
    log "${MANIFEST_PATH} updated"
else
    log "${MANIFEST_PATH} already up to date"
fi
