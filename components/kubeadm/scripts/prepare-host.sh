#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# prepare-host: make an Ubuntu 22.04/24.04 or Debian 12 host ready for kubeadm.
#
# Parameters: NODE_NAME, K8S_VERSION (1.36.4), K8S_MINOR (1.36), GPU (true|false),
#   GPU_DRIVER (preinstalled|managed), CONTAINERD_PACKAGE (default containerd.io).
# Idempotent: every change is made only when the host is not in the wanted state yet, so a
# second run installs nothing and restarts nothing.
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
fi
ML_STEP="prepare-host"

require_param NODE_NAME K8S_VERSION K8S_MINOR
: "${GPU:=false}"
: "${GPU_DRIVER:=preinstalled}"
: "${CONTAINERD_PACKAGE:=containerd.io}"
require_bool GPU
case "${GPU_DRIVER}" in
    preinstalled | managed) ;;
    *) die "GPU_DRIVER must be \"preinstalled\" or \"managed\", got \"${GPU_DRIVER}\"" ;;
esac
if [[ ! ${K8S_MINOR} =~ ^1\.[0-9]+$ ]]; then
    die "K8S_MINOR must look like 1.36, got \"${K8S_MINOR}\""
fi
if [[ ! ${K8S_VERSION} =~ ^1\.[0-9]+\.[0-9]+$ || ${K8S_VERSION} != "${K8S_MINOR}".* ]]; then
    die "K8S_VERSION must be a ${K8S_MINOR}.x patch version, got \"${K8S_VERSION}\""
fi

KEYRINGS="${ROOT:-}/etc/apt/keyrings"
SOURCES="${ROOT:-}/etc/apt/sources.list.d"

# ---- operating system ------------------------------------------------------------------------
OS_RELEASE="${ROOT:-}/etc/os-release"
[[ -r ${OS_RELEASE} ]] || die "cannot read /etc/os-release; supported: Ubuntu 22.04, Ubuntu 24.04, Debian 12"
os_field() {
    awk -F= -v key="$1" '$1 == key {
        value = substr($0, length(key) + 2)
        gsub(/^["\047]|["\047]$/, "", value)
        print value
        exit
    }' "${OS_RELEASE}"
}
OS_ID=$(os_field ID)
OS_VERSION_ID=$(os_field VERSION_ID)
OS_CODENAME=$(os_field VERSION_CODENAME)
[[ -n ${OS_CODENAME} ]] || OS_CODENAME=$(os_field UBUNTU_CODENAME)
case "${OS_ID} ${OS_VERSION_ID}" in
    "ubuntu 22.04" | "ubuntu 24.04" | "debian 12") ;;
    *)
        die "unsupported operating system ${OS_ID:-unknown} ${OS_VERSION_ID:-unknown}" \
            "(supported: Ubuntu 22.04, Ubuntu 24.04, Debian 12)"
        ;;
esac
[[ -n ${OS_CODENAME} ]] || die "/etc/os-release has no VERSION_CODENAME"
ARCH=$(dpkg --print-architecture)
log "${OS_ID} ${OS_VERSION_ID} (${OS_CODENAME}, ${ARCH}); Kubernetes ${K8S_VERSION}"

# The package versions are only changed on hosts that have not joined a cluster yet; upgrading a
# member is a kubeadm upgrade (drain, kubeadm upgrade apply/node, then kubelet), not this step.
JOINED=false
if [[ -f "${ROOT:-}/etc/kubernetes/kubelet.conf" ]]; then
    JOINED=true
fi

# ---- swap ------------------------------------------------------------------------------------
if [[ -r "${ROOT:-}/proc/swaps" ]] && awk 'NR > 1 { found = 1 } END { exit !found }' "${ROOT:-}/proc/swaps"; then
    log "turning swap off"
    swapoff -a
fi
FSTAB="${ROOT:-}/etc/fstab"
if [[ -f ${FSTAB} ]]; then
    fstab_mode=$(stat -c '%a' "${FSTAB}")
    new_fstab=$(awk '$1 !~ /^#/ && $3 == "swap" { print "# disabled by ml-platform (kubelet needs swap off): " $0; next } { print }' "${FSTAB}")
    if write_file "${FSTAB}" "${fstab_mode}" <<<"${new_fstab}"; then
        log "commented swap entries in /etc/fstab"
    fi
fi

# ---- kernel modules and sysctls --------------------------------------------------------------
write_file "${ROOT:-}/etc/modules-load.d/kubernetes.conf" 0644 <<'MODULES' || true
# Managed by ml-platform.
overlay
br_netfilter
MODULES
for module in overlay br_netfilter; do
    if [[ ! -d "${ROOT:-}/sys/module/${module}" ]]; then
        log "loading kernel module ${module}"
        modprobe "${module}"
    fi
done

if write_file "${ROOT:-}/etc/sysctl.d/99-kubernetes.conf" 0644 <<'SYSCTL'; then
# Managed by ml-platform.
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.ip_forward = 1
SYSCTL
    # --system also loads the distribution's files; if one of those fails, ours must still apply.
    sysctl --system >/dev/null ||
        sysctl -p "${ROOT:-}/etc/sysctl.d/99-kubernetes.conf" >/dev/null ||
        die "cannot apply /etc/sysctl.d/99-kubernetes.conf (is br_netfilter loaded?)"
fi

# ---- base packages and time sync -------------------------------------------------------------
base_missing=()
for tool in curl gpg; do
    command -v "${tool}" >/dev/null || base_missing+=("${tool}")
done
pkg_installed ca-certificates || base_missing+=(ca-certificates)
pkg_installed chrony || base_missing+=(chrony)
if ((${#base_missing[@]} > 0)); then
    apt_install "${base_missing[@]}"
fi
ensure_enabled chrony --now

# ---- containerd 2.x from Docker's apt repository ----------------------------------------------
DOCKER_KEYRING="${KEYRINGS}/docker.asc"
if fetch_keyring "https://download.docker.com/linux/${OS_ID}/gpg" "${DOCKER_KEYRING}"; then
    apt_sources_changed
fi
if write_file "${SOURCES}/docker.list" 0644 <<DOCKER_LIST; then
deb [arch=${ARCH} signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/${OS_ID} ${OS_CODENAME} stable
DOCKER_LIST
    apt_sources_changed
fi
if ! pkg_installed "${CONTAINERD_PACKAGE}"; then
    apt_install "${CONTAINERD_PACKAGE}"
fi
containerd_version=$(containerd --version | awk '{ print $3 }')
containerd_version=${containerd_version#v}
if [[ ! ${containerd_version} =~ ^([0-9]+)\. ]] || ((BASH_REMATCH[1] < 2)); then
    die "containerd 2.x is required, ${CONTAINERD_PACKAGE} provides ${containerd_version:-an unknown version}"
fi

# The wanted config: `containerd config default` with SystemdCgroup = true for runc (config
# version 3). A copy is kept next to config.toml so later runs can tell "our base changed" apart
# from additions made by others (nvidia-ctk and the GPU Operator add imports / drop-ins).
CONTAINERD_CONFIG="${ROOT:-}/etc/containerd/config.toml"
CONTAINERD_BASE="${ROOT:-}/etc/containerd/config.toml.ml-platform"
RUNC_OPTIONS="[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]"
default_config=$(containerd config default)
grep -Eq '^version = 3' <<<"${default_config}" ||
    die "containerd config default did not produce a version 3 config"
wanted_config=$(awk -v sect="${RUNC_OPTIONS}" '
    function header(line,    s) {
        s = line
        gsub(/^[ \t]+|[ \t]+$/, "", s)
        gsub(/"/, "\047", s)
        return s
    }
    function add() {
        if (!done) { print indent "SystemdCgroup = true"; done = 1 }
    }
    /^[ \t]*\[/ {
        if (in_s) add()
        in_s = (header($0) == sect)
        if (in_s) { match($0, /^[ \t]*/); indent = substr($0, 1, RLENGTH) "  " }
        print
        next
    }
    in_s && /^[ \t]*SystemdCgroup[ \t]*=/ {
        if (!done) { line = $0; sub(/=.*/, "= true", line); print line; done = 1 }
        next
    }
    { print }
    END {
        if (in_s) add()
        if (!done) { print ""; print sect; print "  SystemdCgroup = true" }
    }
' <<<"${default_config}")
containerd_changed=false
base_changed=false
if write_file "${CONTAINERD_BASE}" 0644 <<<"${wanted_config}"; then
    base_changed=true
fi
if [[ ${base_changed} == true ]] || ! grep -Eq '^[[:space:]]*SystemdCgroup = true' "${CONTAINERD_CONFIG}" 2>/dev/null; then
    if write_file "${CONTAINERD_CONFIG}" 0644 <<<"${wanted_config}"; then
        containerd_changed=true
    fi
fi

# ---- NVIDIA driver (GPU hosts whose driver comes with the OS image) ---------------------------
# The GPU operator installs the container toolkit on every GPU node; here the driver is only
# checked, so that a host without one stops now and not when its first GPU pod never starts.
if [[ ${GPU} == true && ${GPU_DRIVER} == preinstalled ]] && ! nvidia-smi >/dev/null 2>&1; then
    die "GPU=true with GPU_DRIVER=preinstalled, but nvidia-smi fails: install the NVIDIA" \
        "driver in the host image first (or use GPU_DRIVER=managed to let the GPU Operator do it)"
fi

if [[ ${containerd_changed} == true ]]; then
    log "restarting containerd"
    systemctl restart containerd
fi
ensure_enabled containerd --now

# ---- kubelet, kubeadm, kubectl from pkgs.k8s.io ----------------------------------------------
K8S_PACKAGES=(kubelet kubeadm kubectl)
k8s_current=true
for pkg in "${K8S_PACKAGES[@]}"; do
    installed=$(pkg_version "${pkg}")
    if [[ ${installed} != "${K8S_VERSION}"-* ]]; then
        k8s_current=false
        if [[ ${JOINED} == true && -n ${installed} ]]; then
            die "${pkg} ${installed} is installed on a node that already joined the cluster;" \
                "changing it to ${K8S_VERSION} is an upgrade (kubeadm upgrade), not a host preparation"
        fi
    fi
done

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

log "host ready"
