#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# revoke-join-token: on the init host, once a node has joined, delete its bootstrap token.
# Parameters: NODE_NAME (this host), TARGET_NODE, SELF (true|false), TOKEN_ID.
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
fi
ML_STEP="revoke-join-token"

require_param TARGET_NODE SELF
require_bool SELF
if [[ ${SELF} == true ]]; then
    exit 0
fi
require_param TOKEN_ID
[[ ${TOKEN_ID} =~ ^[a-z0-9]{6}$ ]] || die "TOKEN_ID must be 6 characters of [a-z0-9]"
[[ -f ${ADMIN_CONF} ]] ||
    die "/etc/kubernetes/admin.conf not found: run this on the initialised init host"
delete_token() {
    kubectl --kubeconfig "${ADMIN_CONF}" -n kube-system delete secret \
        "bootstrap-token-${TOKEN_ID}" --ignore-not-found 2>&1 | to_output_log
}
retry 5 5 delete_token || die "cannot delete the join token of ${TARGET_NODE}"
log "join token of ${TARGET_NODE} deleted"
