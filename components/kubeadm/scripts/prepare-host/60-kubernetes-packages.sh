#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
#
# prepare-host, part 6: kubelet, kubeadm and kubectl from pkgs.k8s.io, pinned to K8S_VERSION and
# held. Their versions change only on hosts that have not joined a cluster yet: upgrading a
# member is a kubeadm upgrade (drain, kubeadm upgrade apply/node, then kubelet), not this step.
# On a joined host whose packages differ from K8S_VERSION the step says plainly that an upgrade
# is pending and leaves the packages (and their apt repository) as they are: a version bump in
# the config must not fail `pulumi up` on every running node.
# Parameters: K8S_VERSION (1.36.4), K8S_MINOR (1.36).
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/../common.sh"
fi
if ! declare -F detect_os >/dev/null; then
    # shellcheck source=prepare-host/lib.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
fi
ML_STEP="prepare-host/kubernetes-packages"

require_param K8S_VERSION K8S_MINOR
if [[ ! ${K8S_MINOR} =~ ^1\.[0-9]+$ ]]; then
    die "K8S_MINOR must look like 1.36, got \"${K8S_MINOR}\""
fi
if [[ ! ${K8S_VERSION} =~ ^1\.[0-9]+\.[0-9]+$ || ${K8S_VERSION} != "${K8S_MINOR}".* ]]; then
    die "K8S_VERSION must be a ${K8S_MINOR}.x patch version, got \"${K8S_VERSION}\""
fi
ensure_download_tools
KEYRINGS="${ROOT:-}/etc/apt/keyrings"
SOURCES="${ROOT:-}/etc/apt/sources.list.d"
JOINED=false
if [[ -f "${ROOT:-}/etc/kubernetes/kubelet.conf" ]]; then
    JOINED=true
fi

K8S_PACKAGES=(kubelet kubeadm kubectl)
k8s_current=true
running=()
for pkg in "${K8S_PACKAGES[@]}"; do
    installed=$(pkg_version "${pkg}")
    if [[ ${installed} != "${K8S_VERSION}"-* ]]; then
        k8s_current=false
        if [[ -n ${installed} ]]; then
            running+=("${pkg} ${installed}")
        fi
    fi
done
# The parts of prepare-host run in one shell: this part does not exit early.
install_kubernetes_packages() {
    local pkg version held wanted=() to_hold=()
    if fetch_keyring "https://pkgs.k8s.io/core:/stable:/v${K8S_MINOR}/deb/Release.key" \
        "${KEYRINGS}/kubernetes-apt-keyring.gpg" dearmor; then
        apt_sources_changed
    fi
    if write_file "${SOURCES}/kubernetes.list" 0644 <<K8S_LIST; then
deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/v${K8S_MINOR}/deb/ /
K8S_LIST
        apt_sources_changed
    fi

    if [[ ${k8s_current} == false ]]; then
        apt_update
        wanted=()
        for pkg in "${K8S_PACKAGES[@]}"; do
            version=$(apt-cache madison "${pkg}" |
                awk -F'|' -v want="${K8S_VERSION}" '{ gsub(/[ \t]/, "", $2) } index($2, want "-") == 1 { print $2; exit }')
            [[ -n ${version} ]] || die "no ${pkg} package for Kubernetes ${K8S_VERSION} in pkgs.k8s.io v${K8S_MINOR}"
            wanted+=("${pkg}=${version}")
        done
        apt_install "${wanted[@]}"
    fi
    held=$(apt-mark showhold)
    to_hold=()
    for pkg in "${K8S_PACKAGES[@]}"; do
        grep -qx "${pkg}" <<<"${held}" || to_hold+=("${pkg}")
    done
    if ((${#to_hold[@]} > 0)); then
        apt-mark hold "${to_hold[@]}" >&2
    fi
    ensure_enabled kubelet
    log "Kubernetes ${K8S_VERSION} packages installed and held"
}

if [[ ${k8s_current} == false && ${JOINED} == true && ${#running[@]} -gt 0 ]]; then
    warn "UPGRADE PENDING: this node joined the cluster with ${running[*]}; the config asks for" \
        "Kubernetes ${K8S_VERSION}. A joined node keeps its version: upgrade it with kubeadm" \
        "(docs/operations/upgrade.md), then \`pulumi up\` changes nothing here"
    ensure_enabled kubelet
else
    install_kubernetes_packages
fi
