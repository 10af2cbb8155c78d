#!/usr/bin/env bash
# shellcheck shell=bash
#
# Helpers the parts of prepare-host share; the bundle sends this file after common.sh and before
# the parts. Not meant to be run on its own.

# detect_os: set OS_ID, OS_VERSION_ID, OS_CODENAME and ARCH, or stop on an operating system the
# steps do not support (Ubuntu 22.04, Ubuntu 24.04, Debian 12).
detect_os() {
    local release="${ROOT:-}/etc/os-release"
    [[ -r ${release} ]] ||
        die "cannot read /etc/os-release; supported: Ubuntu 22.04, Ubuntu 24.04, Debian 12"
    OS_ID=$(_os_field "${release}" ID)
    OS_VERSION_ID=$(_os_field "${release}" VERSION_ID)
    OS_CODENAME=$(_os_field "${release}" VERSION_CODENAME)
    [[ -n ${OS_CODENAME} ]] || OS_CODENAME=$(_os_field "${release}" UBUNTU_CODENAME)
    case "${OS_ID} ${OS_VERSION_ID}" in
        "ubuntu 22.04" | "ubuntu 24.04" | "debian 12") ;;
        *)
            die "unsupported operating system ${OS_ID:-unknown} ${OS_VERSION_ID:-unknown}" \
                "(supported: Ubuntu 22.04, Ubuntu 24.04, Debian 12)"
            ;;
    esac
    [[ -n ${OS_CODENAME} ]] || die "/etc/os-release has no VERSION_CODENAME"
    # shellcheck disable=SC2034 # read by the step scripts
    ARCH=$(dpkg --print-architecture)
}

_os_field() {
    awk -F= -v key="$2" '$1 == key {
        value = substr($0, length(key) + 2)
        gsub(/^["\047]|["\047]$/, "", value)
        print value
        exit
    }' "$1"
}

# ensure_download_tools: curl, gpg and the CA certificates that adding an apt repository needs.
ensure_download_tools() {
    local missing=() tool
    for tool in curl gpg; do
        command -v "${tool}" >/dev/null || missing+=("${tool}")
    done
    pkg_installed ca-certificates || missing+=(ca-certificates)
    if ((${#missing[@]} > 0)); then
        apt_install "${missing[@]}"
    fi
}
