#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
#
# prepare-host, part 3: the kernel modules and sysctls Kubernetes networking needs, now and after
# reboots.
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/../common.sh"
fi
ML_STEP="prepare-host/kernel"

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
