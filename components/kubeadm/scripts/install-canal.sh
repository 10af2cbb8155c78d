#!/usr/bin/env bash
# install-canal: Canal (flannel networking + Calico policy) from its pinned manifest, with
# flannel's network set to the cluster's pod subnet. Runs on the first control plane.
# Parameters: NODE_NAME, MANIFEST_URL, CALICO_VERSION, CANAL_PATCH_JSON (merge patch of the
# canal-config ConfigMap, built by the program).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
fi
ML_STEP="install-canal"

require_param MANIFEST_URL CALICO_VERSION CANAL_PATCH_JSON
kubeconfig="${ROOT:-}/etc/kubernetes/admin.conf"
[[ -f $kubeconfig ]] || die "no ${kubeconfig#"${ROOT:-}"}: the cluster is not initialised"
kctl() {
    kubectl --kubeconfig "$kubeconfig" "$@"
}

# Installed already at this version: applying the manifest again would reset canal-config.
installed=$(kctl -n kube-system get daemonset canal \
    -o jsonpath='{.spec.template.spec.containers[*].image}' 2>/dev/null || true)
if [[ $installed == *":${CALICO_VERSION}"* ]]; then
    log "canal ${CALICO_VERSION} is installed; nothing to do"
    exit 0
fi

manifest=$(mktemp)
patch=$(mktemp)
cleanup_later "$manifest" "$patch"
retry 5 2 curl -fsSL --proto '=https' --max-time 120 -o "$manifest" "$MANIFEST_URL" ||
    die "cannot download ${MANIFEST_URL}"
printf '%s\n' "$CANAL_PATCH_JSON" >"$patch"
retry 5 5 kctl apply -f "$manifest" || die "kubectl apply of the canal manifest failed"
kctl -n kube-system patch configmap canal-config --type merge --patch-file "$patch" ||
    die "cannot set flannel's network in canal-config"
kctl -n kube-system rollout restart daemonset/canal || die "cannot restart the canal daemonset"
log "canal ${CALICO_VERSION} installed"
