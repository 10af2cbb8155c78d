#!/usr/bin/env bash
# apply-manifests: upstream manifests at a pinned ref, fetched now (never stored in the program),
# built with kubectl's kustomize and applied server-side. Runs on the first control plane with
# the admin kubeconfig; the program re-runs it whenever the kustomization changes (a version bump
# moves the refs in it), and running it again with the same kustomization changes nothing.
# Parameters:
#   NAME                  what is applied (kebab-case), for logs and the record of what it applied
#   KUSTOMIZATION_B64     kustomization.yaml: remote resources at pinned refs, the program's patches
#   NEEDS_GIT             true when a resource is a remote directory (kustomize clones it with git)
#   WAIT_ESTABLISHED      CRD names (space-separated) that must be Established before it returns
#   WAIT_NAMESPACE        a namespace whose Deployments must all be Available before it returns
#   WAIT_TIMEOUT_SECONDS  how long each wait may take (default 600)
# Secrets never pass through here: the manifests name Secrets the program creates.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
fi
ML_STEP="apply-manifests"

require_param NAME KUSTOMIZATION_B64
require_bool NEEDS_GIT
# shellcheck disable=SC2153 # NAME is a parameter of the bundle
[[ $NAME =~ ^[a-z0-9]+(-[a-z0-9]+)*$ ]] || die "NAME must be kebab-case, got \"${NAME}\""
timeout_seconds=${WAIT_TIMEOUT_SECONDS:-600}
[[ $timeout_seconds =~ ^[0-9]+$ ]] || die "WAIT_TIMEOUT_SECONDS must be a number of seconds"
ML_STEP="apply-manifests/${NAME}"

[[ -f $ADMIN_CONF ]] || die "no ${ADMIN_CONF#"${ROOT:-}"}: the cluster is not initialised"
kctl() {
    kubectl --kubeconfig "$ADMIN_CONF" "$@"
}

# kustomize clones remote directories with git; Ubuntu server images ship it, minimal ones may not.
if [[ $NEEDS_GIT == true ]] && ! command -v git >/dev/null 2>&1; then
    apt_install git
fi

workdir=$(mktemp -d)
cleanup_later "$workdir"
write_b64_param KUSTOMIZATION_B64 "${workdir}/kustomization.yaml" 0644 || true
rendered="${workdir}/rendered.yaml"
# The network is the usual failure here (GitHub, a clone cut short): try again a few times.
build() {
    timeout --kill-after=10 "${RETRY_TIMEOUT}" kubectl kustomize "$workdir" >"$rendered"
}
retry 4 10 build || die "kubectl kustomize failed: cannot fetch or build the ${NAME} manifests"
[[ -s $rendered ]] || die "the ${NAME} kustomization built nothing"

# Server-side apply: the CRDs are too large for the last-applied annotation of a client-side
# apply, and fields other managers own (a controller's) are left alone. A custom resource that
# comes in the same manifests as its CRD can fail on the first pass; the next one finds it.
apply() {
    timeout --kill-after=10 "${RETRY_TIMEOUT}" \
        kubectl --kubeconfig "$ADMIN_CONF" apply --server-side --force-conflicts --field-manager=ml-platform \
        -f "$rendered" >&2
}
retry 4 10 apply || die "kubectl apply of the ${NAME} manifests failed"

for crd in ${WAIT_ESTABLISHED:-}; do
    kctl wait --for=condition=Established --timeout="${timeout_seconds}s" "crd/${crd}" >&2 ||
        die "CRD ${crd} is not Established after ${timeout_seconds}s"
done
if [[ -n ${WAIT_NAMESPACE:-} ]]; then
    kctl -n "$WAIT_NAMESPACE" wait --for=condition=Available --timeout="${timeout_seconds}s" \
        deployment --all >&2 ||
        die "the Deployments in ${WAIT_NAMESPACE} are not Available after ${timeout_seconds}s" \
            "(kubectl -n ${WAIT_NAMESPACE} get pods shows why)"
fi

# What was applied, for an operator to inspect or remove (kubectl delete -f).
record="${ROOT:-}/var/lib/ml-platform/manifests/${NAME}.yaml"
write_file "$record" 0600 <"$rendered" || true
log "${NAME} applied ($(grep -c '^kind:' "$rendered") objects)"
