#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# refresh-join: on the first control plane, before any join, make sure a node can join now even
# weeks after init (bootstrap tokens expire after 24h, uploaded certificates after 2h):
#   1. create or renew the bootstrap token Secret kube-system/bootstrap-token-<TOKEN_ID>
#      (fed to `kubectl apply -f -` on stdin: the token never appears on a command line);
#   2. re-upload the control-plane certificates encrypted with the certificate key.
# Parameters: TOKEN_ID, TOKEN_SECRET, CERTIFICATE_KEY_CONFIG_B64 (InitConfiguration +
#   ClusterConfiguration with certificateKey), TOKEN_TTL_HOURS (default 24).
# Meant to run on every `pulumi up` that adds nodes; each run simply renews both.
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
fi
ML_STEP="refresh-join"

require_param TOKEN_ID TOKEN_SECRET CERTIFICATE_KEY_CONFIG_B64
: "${TOKEN_TTL_HOURS:=24}"
[[ ${TOKEN_ID} =~ ^[a-z0-9]{6}$ ]] || die "TOKEN_ID must be 6 characters of [a-z0-9]"
[[ ${TOKEN_SECRET} =~ ^[a-z0-9]{16}$ ]] ||
    die "TOKEN_SECRET must be 16 characters of [a-z0-9] (value not shown)"
[[ ${TOKEN_TTL_HOURS} =~ ^[1-9][0-9]{0,4}$ ]] ||
    die "TOKEN_TTL_HOURS must be a positive number of hours, got \"${TOKEN_TTL_HOURS}\""
[[ -f ${ADMIN_CONF} ]] ||
    die "/etc/kubernetes/admin.conf not found: run this on the initialised first control plane"

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
  description: $(b64 "ml-platform node join token (renewed by refresh-join)")
  token-id: $(b64 "${TOKEN_ID}")
  token-secret: $(b64 "${TOKEN_SECRET}")
  expiration: $(b64 "${expiration}")
  usage-bootstrap-authentication: $(b64 true)
  usage-bootstrap-signing: $(b64 true)
  auth-extra-groups: $(b64 system:bootstrappers:kubeadm:default-node-token)"

apply_token() {
    timeout --kill-after=10 "${RETRY_TIMEOUT}" kubectl --kubeconfig "${ADMIN_CONF}" apply \
        --server-side --force-conflicts --field-manager=ml-platform -f - <<<"${TOKEN_MANIFEST}" >&2
}
retry 5 5 apply_token || die "cannot create or renew bootstrap token ${TOKEN_ID}"
log "bootstrap token ${TOKEN_ID} valid until ${expiration}"

upload_config=""
secret_file CERTIFICATE_KEY_CONFIG_B64 upload_config
upload_certs() {
    run_kubeadm init phase upload-certs --upload-certs --config "${upload_config}"
}
retry 3 5 upload_certs || die "kubeadm init phase upload-certs failed (the output is above)"
rm -f -- "${upload_config}"
log "control-plane certificates uploaded (valid for 2h)"
