#!/usr/bin/env bash
# dashboard: an upstream Grafana dashboard, downloaded from its pinned URL and verified by its
# SHA-256, as a ConfigMap the Grafana sidecar loads (label grafana_dashboard, folder from the
# grafana_folder annotation). Fetched here, at deploy time, so Grafana fetches nothing when it
# starts. With ACTION=delete the ConfigMap is removed. Runs on the first control plane.
# Parameters: ACTION (apply|delete), DASHBOARD (its name), NAMESPACE, FOLDER, URL (https), SHA256.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
fi
ML_STEP="dashboard"

require_param ACTION DASHBOARD NAMESPACE
[[ $DASHBOARD =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] || die "DASHBOARD must be a DNS label"
[[ $NAMESPACE =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] || die "NAMESPACE must be a DNS label"
[[ -f ${ADMIN_CONF} ]] || die "no /etc/kubernetes/admin.conf: the cluster is not initialised"
kctl() {
    timeout --kill-after=5 60 kubectl --kubeconfig "${ADMIN_CONF}" "$@"
}
configmap="grafana-dashboard-${DASHBOARD}"

if [[ $ACTION == delete ]]; then
    retry 3 5 kctl -n "$NAMESPACE" delete configmap "$configmap" --ignore-not-found >&2 ||
        die "cannot delete ConfigMap ${NAMESPACE}/${configmap}"
    log "dashboard ${DASHBOARD} removed"
    exit 0
fi
[[ $ACTION == apply ]] || die "ACTION must be apply or delete, got \"${ACTION}\""
require_param FOLDER URL SHA256
[[ $URL == https://* ]] || die "URL must be https"
[[ $SHA256 =~ ^[0-9a-f]{64}$ ]] || die "SHA256 must be 64 hex digits"

work=$(mktemp -d)
cleanup_later "$work"
retry 5 5 curl -fsSL --proto '=https' --max-time 120 -o "${work}/${DASHBOARD}.json" "$URL" ||
    die "cannot download ${URL}"
printf '%s  %s\n' "$SHA256" "${work}/${DASHBOARD}.json" | sha256sum --check --status ||
    die "${URL} is not the pinned dashboard (SHA-256 differs): refusing to install it"
kctl -n "$NAMESPACE" create configmap "$configmap" --from-file="${work}/${DASHBOARD}.json" \
    --dry-run=client -o yaml >"${work}/configmap.yaml"
kctl label --local -f "${work}/configmap.yaml" grafana_dashboard=1 -o yaml |
    kctl annotate --local -f - "grafana_folder=${FOLDER}" -o yaml >"${work}/labelled.yaml"
retry 3 5 kctl apply --server-side --force-conflicts --field-manager=ml-platform \
    -f "${work}/labelled.yaml" >&2 || die "cannot apply ConfigMap ${NAMESPACE}/${configmap}"
log "dashboard ${DASHBOARD} installed from ${URL}"
