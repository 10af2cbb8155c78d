#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
#
# prepare-host, part 5: containerd 2.x from Docker's apt repository (distribution packages are
# 1.x), with the systemd cgroup driver for runc.
# Parameters: CONTAINERD_PACKAGE (default containerd.io).
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

if [[ ${containerd_changed} == true ]]; then
    log "restarting containerd"
    systemctl restart containerd
fi
ensure_enabled containerd --now
