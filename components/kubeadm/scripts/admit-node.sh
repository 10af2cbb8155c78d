#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# admit-node: on the init host, just before a node joins, give it its own join material:
#   1. a bootstrap token of its own (Secret kube-system/bootstrap-token-<TOKEN_ID>, fed to
#      `kubectl apply -f -` on stdin: the token never appears on a command line), valid for
#      TOKEN_TTL_HOURS; the node's drain step deletes it as soon as the node has joined;
#   2. for a control plane, the control-plane certificates uploaded again, encrypted with the
#      certificate key (kubeadm keeps them 2 hours).
# Nothing to do when the node is in the cluster already, or when it is the init host itself.
# Parameters: NODE_NAME (this host), TARGET_NODE (the node to admit), SELF (true|false),
#   CONTROL_PLANE (true|false), TOKEN_ID, TOKEN_SECRET, TOKEN_TTL_HOURS,
#   CERTIFICATE_KEY_CONFIG_B64 (control planes: InitConfiguration with certificateKey and
#   ClusterConfiguration).
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
fi
ML_STEP="admit-node"

require_param TARGET_NODE SELF CONTROL_PLANE
require_bool SELF
require_bool CONTROL_PLANE
if [[ ${SELF} == true ]]; then
    log "${TARGET_NODE} is the init host: kubeadm init makes it a member, no token needed"
    exit 0
fi
require_param TOKEN_ID TOKEN_SECRET TOKEN_TTL_HOURS
[[ ${TOKEN_ID} =~ ^[a-z0-9]{6}$ ]] || die "TOKEN_ID must be 6 characters of [a-z0-9]"
[[ ${TOKEN_SECRET} =~ ^[a-z0-9]{16}$ ]] ||
    die "TOKEN_SECRET must be 16 characters of [a-z0-9] (value not shown)"
[[ ${TOKEN_TTL_HOURS} =~ ^[1-9][0-9]{0,3}$ ]] ||
    die "TOKEN_TTL_HOURS must be a positive number of hours, got \"${TOKEN_TTL_HOURS}\""
[[ -f ${ADMIN_CONF} ]] ||
    die "/etc/kubernetes/admin.conf not found: run this on the initialised init host"

ready=$(node_ready "${TARGET_NODE}") || die "cannot ask the API server about node ${TARGET_NODE}"
if [[ -n ${ready} ]]; then
    log "node ${TARGET_NODE} is in the cluster already (Ready: ${ready}); no join token minted"
    exit 0
fi

expiration=$(date -u -d "+${TOKEN_TTL_HOURS} hours" +%Y-%m-%dT%H:%M:%SZ)
b64() {
    printf '%s' "$1" | base64 -w0 # printf is a builtin: the value is not on a command line
}
TOKEN_MANIFEST="apiVersion: v1
kind: Secret
metadata:
  name: bootstrap-token-${TOKEN_ID}
  namespace: kube-system
type: bootstrap.kubernetes.io/token
data:
  description: $(b64 "ml-platform: join of ${TARGET_NODE} (deleted once it joined)")
  token-id: $(b64 "${TOKEN_ID}")
  token-secret: $(b64 "${TOKEN_SECRET}")
  expiration: $(b64 "${expiration}")
  usage-bootstrap-authentication: $(b64 true)
  usage-bootstrap-signing: $(b64 true)
  auth-extra-groups: $(b64 system:bootstrappers:kubeadm:default-node-token)"

apply_token() {
    timeout --kill-after=10 "${RETRY_TIMEOUT}" kubectl --kubeconfig "${ADMIN_CONF}" apply \
        --server-side --force-conflicts --field-manager=ml-platform -f - <<<"${TOKEN_MANIFEST}" \
        2>&1 | to_output_log
}
retry 5 5 apply_token || die "cannot create the join token of ${TARGET_NODE}"
log "join token of ${TARGET_NODE} valid until ${expiration} (or until it joined)"

if [[ ${CONTROL_PLANE} == true ]]; then
    require_param CERTIFICATE_KEY_CONFIG_B64
    upload_config=""
    secret_file CERTIFICATE_KEY_CONFIG_B64 upload_config
    upload_certs() {
        run_kubeadm init phase upload-certs --upload-certs --config "${upload_config}"
    }
    retry 3 5 upload_certs || die "kubeadm init phase upload-certs failed"
    rm -f -- "${upload_config}"
    log "control-plane certificates uploaded for ${TARGET_NODE} (kubeadm keeps them 2 hours)"
fi
