#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
#
# prepare-host, part 5: containerd 2.x from Docker's apt repository (distribution packages are
# 1.x), pinned to CONTAINERD_VERSION and held, with the systemd cgroup driver for runc and the
# sandbox (pause) image pinned to SANDBOX_IMAGE. A node that already joined keeps the containerd
# it runs: a different version is reported as a pending upgrade, not installed under it.
# Parameters: CONTAINERD_PACKAGE (default containerd.io), CONTAINERD_VERSION (e.g. 2.2.1),
#   SANDBOX_IMAGE (e.g. registry.k8s.io/pause:3.10.1).
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/../common.sh"
fi
if ! declare -F detect_os >/dev/null; then
    # shellcheck source=prepare-host/lib.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
fi
ML_STEP="prepare-host/container-runtime"

: "${CONTAINERD_PACKAGE:=containerd.io}"
detect_os
ensure_download_tools
KEYRINGS="${ROOT:-}/etc/apt/keyrings"
SOURCES="${ROOT:-}/etc/apt/sources.list.d"

DOCKER_KEYRING="${KEYRINGS}/docker.asc"
if fetch_keyring "https://download.docker.com/linux/${OS_ID}/gpg" "${DOCKER_KEYRING}"; then
    apt_sources_changed
fi
if write_file "${SOURCES}/docker.list" 0644 <<DOCKER_LIST; then
deb [arch=${ARCH} signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/${OS_ID} ${OS_CODENAME} stable
DOCKER_LIST
    apt_sources_changed
fi
require_param CONTAINERD_VERSION SANDBOX_IMAGE
# shellcheck disable=SC2153 # a parameter of the step, not a misspelling of containerd_version
[[ ${CONTAINERD_VERSION} =~ ^2\.[0-9]+\.[0-9]+$ ]] ||
    die "CONTAINERD_VERSION must be a 2.x.y version, got \"${CONTAINERD_VERSION}\""
[[ ${SANDBOX_IMAGE} =~ ^[a-z0-9.-]+(/[a-z0-9._-]+)+:[A-Za-z0-9._-]+$ ]] ||
    die "SANDBOX_IMAGE must be an image reference with a tag, got \"${SANDBOX_IMAGE}\""
installed=$(pkg_version "${CONTAINERD_PACKAGE}")
if [[ ${installed} != "${CONTAINERD_VERSION}"-* ]]; then
    if [[ -n ${installed} && -f "${ROOT:-}/etc/kubernetes/kubelet.conf" ]]; then
        warn "UPGRADE PENDING: this node runs ${CONTAINERD_PACKAGE} ${installed}, the config pins" \
            "${CONTAINERD_VERSION}; a joined node is left as it is (drain it and upgrade" \
            "containerd by hand, docs/operations/upgrade.md)"
    else
        apt_update
        version=$(apt-cache madison "${CONTAINERD_PACKAGE}" |
            awk -F'|' -v want="${CONTAINERD_VERSION}" '{ gsub(/[ \t]/, "", $2) } index($2, want "-") == 1 { print $2; exit }')
        [[ -n ${version} ]] ||
            die "no ${CONTAINERD_PACKAGE} ${CONTAINERD_VERSION} in Docker's repository for ${OS_CODENAME}"
        apt_install "${CONTAINERD_PACKAGE}=${version}"
    fi
fi
if ! grep -qx "${CONTAINERD_PACKAGE}" <<<"$(apt-mark showhold)"; then
    apt-mark hold "${CONTAINERD_PACKAGE}" >&2
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
# containerd 2.x (config version 3) keeps the sandbox image under the CRI images plugin.
PINNED_IMAGES="[plugins.'io.containerd.cri.v1.images'.pinned_images]"
default_config=$(containerd config default)
grep -Eq '^version = 3' <<<"${default_config}" ||
    die "containerd config default did not produce a version 3 config"
# set_in_section <section header> <key> <TOML value>: filter that sets key = value in the section,
# adding the key (or the section) when missing.
set_in_section() {
    awk -v sect="$1" -v key="$2" -v value="$3" '
    function header(line,    s) {
        s = line
        gsub(/^[ \t]+|[ \t]+$/, "", s)
        gsub(/"/, "\047", s)
        return s
    }
    function add() {
        if (!done) { print indent key " = " value; done = 1 }
    }
    /^[ \t]*\[/ {
        if (in_s) add()
        in_s = (header($0) == sect)
        if (in_s) { match($0, /^[ \t]*/); indent = substr($0, 1, RLENGTH) "  " }
        print
        next
    }
    in_s && $0 ~ "^[ \t]*" key "[ \t]*=" {
        if (!done) { line = $0; sub(/=.*/, "= " value, line); print line; done = 1 }
        next
    }
    { print }
    END {
        if (in_s) add()
        if (!done) { print ""; print sect; print "  " key " = " value }
    }
'
}
wanted_config=$(set_in_section "${RUNC_OPTIONS}" SystemdCgroup true <<<"${default_config}" |
    set_in_section "${PINNED_IMAGES}" sandbox "'${SANDBOX_IMAGE}'")
containerd_changed=false
base_changed=false
if write_file "${CONTAINERD_BASE}" 0644 <<<"${wanted_config}"; then
    base_changed=true
fi
if [[ ${base_changed} == true ]] ||
    ! grep -Eq '^[[:space:]]*SystemdCgroup = true' "${CONTAINERD_CONFIG}" 2>/dev/null ||
    ! grep -Fq "sandbox = '${SANDBOX_IMAGE}'" "${CONTAINERD_CONFIG}" 2>/dev/null; then
    if write_file "${CONTAINERD_CONFIG}" 0644 <<<"${wanted_config}"; then
        containerd_changed=true
    fi
fi

if [[ ${containerd_changed} == true ]]; then
    log "restarting containerd"
    systemctl restart containerd
fi
ensure_enabled containerd --now
