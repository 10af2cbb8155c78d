#!/usr/bin/env bash
# status-ready: wait until a resource's status says it is ready, e.g. a Ceph pool whose
# operator reports phase Ready. Helm's wait ends when a chart's Deployments are up, not when
# the operator has done its work; what uses that work waits for this. Runs on the first
# control plane.
# Parameters: RESOURCE (kind/name), NAMESPACE, JSONPATH (e.g. {.status.phase}), EXPECTED,
#   TIMEOUT_SECONDS, POLL_SECONDS; REVISION is not read: a new one runs the gate again.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
fi
ML_STEP="status-ready"

require_param RESOURCE NAMESPACE JSONPATH EXPECTED TIMEOUT_SECONDS POLL_SECONDS
[[ $RESOURCE =~ ^[a-z0-9.]+/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$ ]] || die "RESOURCE must be kind/name"
[[ $NAMESPACE =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] || die "NAMESPACE must be a DNS label"
[[ $JSONPATH =~ ^\{\.[A-Za-z0-9.]+\}$ ]] || die "JSONPATH must look like {.status.phase}"
[[ $TIMEOUT_SECONDS =~ ^[1-9][0-9]*$ ]] || die "TIMEOUT_SECONDS must be a positive integer"
[[ $POLL_SECONDS =~ ^[1-9][0-9]*$ ]] || die "POLL_SECONDS must be a positive integer"
[[ -f ${ADMIN_CONF} ]] || die "no /etc/kubernetes/admin.conf: the cluster is not initialised"

attempts=$(((TIMEOUT_SECONDS + POLL_SECONDS - 1) / POLL_SECONDS))
state=""
for ((attempt = 1; attempt <= attempts; attempt++)); do
    state=$(timeout --kill-after=5 30 kubectl --kubeconfig "${ADMIN_CONF}" -n "$NAMESPACE" \
        get "$RESOURCE" -o "jsonpath=${JSONPATH}" 2>/dev/null || true)
    if [[ $state == "$EXPECTED" ]]; then
        log "${RESOURCE} is ${EXPECTED}"
        exit 0
    fi
    if ((attempt < attempts)); then
        log "waiting for ${RESOURCE}: ${state:-not there yet}"
        sleep "$POLL_SECONDS"
    fi
done
die "${RESOURCE} in ${NAMESPACE} is not ${EXPECTED} after ${TIMEOUT_SECONDS}s (it is" \
    "${state:-not there}); kubectl -n ${NAMESPACE} describe ${RESOURCE}"
