#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# read-kubeconfig: print /etc/kubernetes/admin.conf on stdout (and nothing else).
# pulumi-command puts a failed command's stdout and stderr in its error message
# (pulumi/pulumi-command@v1.2.1:provider/pkg/provider/remote/commandOutputs.go), so the file is
# read and checked first and printed by the very last command: a failure prints only fixed text.
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
fi
ML_STEP="read-kubeconfig"

[[ -s ${ADMIN_CONF} ]] ||
    die "/etc/kubernetes/admin.conf not found: is this the init host, and did init run?"
kubeconfig=$(cat -- "${ADMIN_CONF}" 2>/dev/null) || die "cannot read /etc/kubernetes/admin.conf"
[[ ${kubeconfig} == *"kind: Config"* || ${kubeconfig} == *"apiVersion:"* ]] ||
    die "/etc/kubernetes/admin.conf is not a kubeconfig"
printf '%s\n' "${kubeconfig}"
