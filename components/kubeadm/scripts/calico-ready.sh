#!/usr/bin/env bash
# calico-ready: wait until Calico's node agent runs on the nodes, so that what comes after the
# CNI finds a pod network. The tigera-operator chart is "installed" once the operator
# Deployment is up; the operator then creates calico-node in calico-system. Ready means: the
# calico-node DaemonSet of CALICO_VERSION is rolled out (status observed, every scheduled pod
# updated) and calico-node is Ready on every control plane. Workers are not waited for: they
# join in parallel, a slow or dead one must not hold the platform back, and the scheduler
# keeps pods off a node until its network is Ready. Runs on the first control plane.
# Parameters: NODE_NAME, CALICO_VERSION, TIMEOUT_SECONDS (bounded wait), POLL_SECONDS;
# VALUES_DIGEST is not read: it is there so that new chart values run the gate again.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
fi
ML_STEP="calico-ready"

require_param CALICO_VERSION TIMEOUT_SECONDS POLL_SECONDS
[[ $TIMEOUT_SECONDS =~ ^[1-9][0-9]*$ ]] || die "TIMEOUT_SECONDS must be a positive integer"
[[ $POLL_SECONDS =~ ^[1-9][0-9]*$ ]] || die "POLL_SECONDS must be a positive integer"
kubeconfig="${ROOT:-}/etc/kubernetes/admin.conf"
[[ -f $kubeconfig ]] || die "no ${kubeconfig#"${ROOT:-}"}: the cluster is not initialised"
kctl() {
    timeout --kill-after=5 30 kubectl --kubeconfig "$kubeconfig" "$@"
}

# One line: generation observedGeneration desired updated ready image (empty: no DaemonSet).
daemonset_state() {
    kctl -n calico-system get daemonset calico-node -o jsonpath='{.metadata.generation} {.status.observedGeneration} {.status.desiredNumberScheduled} {.status.updatedNumberScheduled} {.status.numberReady} {.spec.template.spec.containers[?(@.name=="calico-node")].image}' 2>/dev/null || true
}

# The calico-node pods, one "node=phase/ready" line each.
pods() {
    kctl -n calico-system get pods -l k8s-app=calico-node -o jsonpath='{range .items[*]}{.spec.nodeName}={.status.phase}/{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null || true
}

# The control planes (as the kubelet registered them) without a Ready calico-node pod.
control_planes_unready() {
    local planes
    planes=$(kctl get nodes -l node-role.kubernetes.io/control-plane -o jsonpath='{.items[*].metadata.name}' 2>/dev/null || true)
    [[ -n $planes ]] || { echo "(no control-plane node registered)"; return; }
    pods | awk -F'[=/]' -v planes="$planes" '
        BEGIN { n = split(planes, p, " ") }
        $3 == "True" { ready[$1] = 1 }
        END { for (i = 1; i <= n; i++) if (!(p[i] in ready)) printf "%s ", p[i] }'
}

# The calico-node pods that are not Ready, as "node=phase" words (for the failure message).
unready_pods() {
    pods | awk -F/ '$2 != "True" { print $1 }' | tr '\n' ' ' || true
}

attempts=$(((TIMEOUT_SECONDS + POLL_SECONDS - 1) / POLL_SECONDS))
state="" reason=""
for ((attempt = 1; attempt <= attempts; attempt++)); do
    state=$(daemonset_state)
    read -r generation observed desired updated ready image <<<"$state" || true
    if [[ -z $state ]]; then
        reason="the calico-node DaemonSet does not exist yet (the operator creates it from the Installation)"
    elif [[ $image != *":${CALICO_VERSION}" ]]; then
        reason="calico-node runs ${image:-no image}, not ${CALICO_VERSION}"
    elif [[ ${observed:-0} -lt ${generation:-1} ]]; then
        reason="the calico-node DaemonSet's new spec is not observed yet"
    elif ((${desired:-0} == 0)); then
        reason="no node runs calico-node yet"
    elif ((${updated:-0} < desired)); then
        reason="calico-node is updated on ${updated:-0} of ${desired} nodes"
    elif waiting=$(control_planes_unready) && [[ -n $waiting ]]; then
        reason="calico-node is not Ready on the control planes ${waiting% } (Ready on ${ready:-0} of ${desired} nodes)"
    else
        log "calico-node ${CALICO_VERSION} is Ready on the control planes (on ${ready:-0} of ${desired} nodes)"
        exit 0
    fi
    if ((attempt < attempts)); then
        log "waiting: ${reason}"
        sleep "$POLL_SECONDS"
    fi
done
unready=$(unready_pods)
die "Calico is not ready after ${TIMEOUT_SECONDS}s: ${reason}${unready:+; not Ready: ${unready% }}" \
    "(kubectl -n calico-system get pods -l k8s-app=calico-node; kubectl get tigerastatus)"
