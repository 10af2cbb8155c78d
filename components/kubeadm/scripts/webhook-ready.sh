#!/usr/bin/env bash
# webhook-ready: wait until an admission webhook answers, by asking the API server to admit an
# object it guards without storing it (server-side dry run). A controller can report Ready
# before its webhook listens, and pulumi-kubernetes does not retry a webhook's refusal, so
# what creates such objects waits for this. Runs on the first control plane.
# Parameters: WHAT (the webhook, for messages), MANIFEST_B64 (the object), TIMEOUT_SECONDS,
#   POLL_SECONDS.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
fi
ML_STEP="webhook-ready"

require_param WHAT MANIFEST_B64 TIMEOUT_SECONDS POLL_SECONDS
[[ $TIMEOUT_SECONDS =~ ^[1-9][0-9]*$ ]] || die "TIMEOUT_SECONDS must be a positive integer"
[[ $POLL_SECONDS =~ ^[1-9][0-9]*$ ]] || die "POLL_SECONDS must be a positive integer"
[[ -f ${ADMIN_CONF} ]] || die "no /etc/kubernetes/admin.conf: the cluster is not initialised"

manifest=$(mktemp)
cleanup_later "$manifest"
decode_b64_param MANIFEST_B64 >"$manifest"
attempts=$(((TIMEOUT_SECONDS + POLL_SECONDS - 1) / POLL_SECONDS))
answer=""
for ((attempt = 1; attempt <= attempts; attempt++)); do
    if answer=$(timeout --kill-after=5 30 kubectl --kubeconfig "${ADMIN_CONF}" apply \
        --dry-run=server -f "$manifest" 2>&1); then
        log "${WHAT} answers"
        exit 0
    fi
    if ((attempt < attempts)); then
        log "waiting for ${WHAT}: ${answer##*$'\n'}"
        sleep "$POLL_SECONDS"
    fi
done
die "${WHAT} did not answer within ${TIMEOUT_SECONDS}s: ${answer##*$'\n'}"
