#!/usr/bin/env bash
# shellcheck shell=bash
#
# Shared helpers for the ml-platform kubeadm step scripts.
#
# script_bundle() in components/kubeadm/scripts.py sends this file, followed by one step script,
# as the stdin of `sudo bash -s` on a host. It is not meant to be run on its own.
#
# Conventions:
#   * every host path is prefixed with "${ROOT:-}" so the tests can redirect them to a temp dir;
#   * logs go to stderr, so stdout stays clean for steps that print data (read-kubeconfig);
#   * secrets never appear on a command line: they arrive as shell variables (not exported, so
#     no child process inherits them) and reach commands through 0600 files or stdin;
#   * steps that handle secrets set ML_OUTPUT_LOG: the output of kubeadm and kubectl goes to that
#     root-only file on the host, and what the step prints (which pulumi-command puts in its error
#     message) is only the fixed lines of log/warn/fail.
set -euo pipefail
set -E

: "${ML_STEP:=unknown}"
: "${RETRY_TIMEOUT:=300}"

log() {
    printf 'ml-platform: %s: %s\n' "${ML_STEP}" "$*" >&2
}

warn() {
    printf 'ml-platform: %s: WARNING: %s\n' "${ML_STEP}" "$*" >&2
}

# fail <step> <message>: print "ml-platform: <step> failed on <host>: <message>" and exit 1.
fail() {
    local step=$1
    shift
    local host=${NODE_NAME:-}
    if [[ -z $host ]]; then
        host=$(hostname 2>/dev/null || echo unknown-host)
    fi
    printf 'ml-platform: %s failed on %s: %s\n' "$step" "$host" "$*" >&2
    exit 1
}

# die <message>: fail for the current step.
die() {
    fail "${ML_STEP}" "$*"
}

# Any command that fails without being handled stops the step with the same message format.
_ml_on_err() {
    local rc=$1 line=$2 cmd=$3
    trap - ERR
    fail "${ML_STEP}" "command exited with status ${rc} (line ${line}): ${cmd}"
}
trap '_ml_on_err "$?" "$LINENO" "$BASH_COMMAND"' ERR

# Temporary files removed when the step exits, whatever the outcome.
_ML_CLEANUP=()
cleanup_later() {
    _ML_CLEANUP+=("$@")
}
_ml_cleanup() {
    local path
    for path in "${_ML_CLEANUP[@]}"; do
        rm -rf -- "$path"
    done
}
trap _ml_cleanup EXIT

# require_param NAME...: each named parameter must be set and non-empty.
require_param() {
    local name
    for name in "$@"; do
        if [[ -z ${!name:-} ]]; then
            die "required parameter ${name} is not set"
        fi
    done
}

# require_bool NAME: the parameter must be "true" or "false".
require_bool() {
    local name=$1
    case "${!name:-}" in
        true | false) ;;
        *) die "parameter ${name} must be \"true\" or \"false\", got \"${!name:-}\"" ;;
    esac
}

# decode_b64_param NAME: print the base64-decoded value of parameter NAME on stdout.
# The value goes to base64 on stdin, never on a command line.
decode_b64_param() {
    local name=$1
    if [[ ! $name =~ ^[A-Z][A-Z0-9_]*$ ]]; then
        die "decode_b64_param: invalid parameter name ${name}"
    fi
    if [[ -z ${!name:-} ]]; then
        die "required parameter ${name} is not set"
    fi
    base64 --decode <<<"${!name}" || die "parameter ${name} is not valid base64"
}

# write_file <path> <mode> < content
# Writes stdin to <path> with <mode> only when content or mode differ, atomically (temp file in
# the same directory, then mv). Returns 0 when the file changed and 1 when it was already up to
# date, so use it as `if write_file ...; then ...; fi` (or `write_file ... || true`).
# Errors do not return: they stop the step.
write_file() {
    local path=$1 mode=$2 dir tmp
    dir=$(dirname -- "$path")
    if [[ ! -d $dir ]]; then
        mkdir -p -- "$dir" || die "cannot create directory ${dir}"
    fi
    tmp=$(mktemp "${dir}/.ml-platform.XXXXXX") || die "cannot create a temporary file in ${dir}"
    cleanup_later "$tmp"
    cat >"$tmp" || die "cannot write ${tmp}"
    chmod "$mode" "$tmp" || die "cannot chmod ${tmp}"
    if [[ -f $path ]] && cmp -s -- "$tmp" "$path" &&
        [[ $(stat -c '%a' -- "$path") == "$(stat -c '%a' -- "$tmp")" ]]; then
        rm -f -- "$tmp"
        return 1
    fi
    mv -f -- "$tmp" "$path" || die "cannot replace ${path}"
    log "wrote ${path#"${ROOT:-}"}"
    return 0
}

# write_b64_param <NAME> <path> <mode>: decode a _B64 parameter into a file (see write_file).
write_b64_param() {
    local name=$1 path=$2 mode=$3 content
    content=$(decode_b64_param "$name") || exit 1
    write_file "$path" "$mode" <<<"$content"
}

# secret_file <NAME> <var>: decode a _B64 parameter into a new 0600 file under
# ${ROOT:-}/etc/kubernetes (removed when the step exits) and store its path in <var>
# (declare <var>="" first).
secret_file() {
    local name=$1 __var=$2 content __path dir="${ROOT:-}/etc/kubernetes"
    content=$(decode_b64_param "$name") || exit 1
    mkdir -p -- "$dir"
    __path=$(umask 077 && mktemp "${dir}/.ml-platform-${ML_STEP}.XXXXXX")
    cleanup_later "$__path"
    chmod 0600 "$__path"
    printf '%s\n' "$content" >"$__path"
    printf -v "$__var" '%s' "$__path"
}

# retry <attempts> <first-delay-seconds> <cmd...>
# Runs cmd up to <attempts> times, doubling the delay between attempts (capped at 120s).
# An external command is bounded by `timeout ${RETRY_TIMEOUT}` (default 300s) per attempt; a shell
# function is run as is and must bound its own commands (and must not rely on `set -e`).
retry() {
    local attempts=$1 delay=$2 attempt=1 rc=0
    shift 2
    while true; do
        if [[ $(type -t "$1") == file ]]; then
            if timeout --kill-after=10 "${RETRY_TIMEOUT}" "$@"; then
                return 0
            else
                rc=$?
            fi
        elif "$@"; then
            return 0
        else
            rc=$?
        fi
        if ((attempt >= attempts)); then
            log "giving up after ${attempt} attempts (last exit status ${rc}): $1 ${2:-}"
            return "$rc"
        fi
        log "attempt ${attempt}/${attempts} failed (exit status ${rc}): $1 ${2:-}; retrying in ${delay}s"
        sleep "$delay"
        attempt=$((attempt + 1))
        delay=$((delay * 2))
        if ((delay > 120)); then
            delay=120
        fi
    done
}

# redact_secrets: filter (stdin to stdout) that masks bootstrap tokens and certificate keys in
# kubeadm output (kubeadm prints the join command with both).
redact_secrets() {
    sed -E \
        -e 's/\b[a-z0-9]{6}\.[a-z0-9]{16}\b/<redacted-token>/g' \
        -e 's/(^|[^:0-9a-f])[0-9a-f]{64}([^0-9a-f]|$)/\1<redacted-key>\2/g'
}

# ---- packages --------------------------------------------------------------------------------

# pkg_version <package>: print the installed version, or nothing when it is not installed.
pkg_version() {
    # shellcheck disable=SC2016 # dpkg-query format, not a shell expansion
    dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null |
        awk '$1 == "install" && $3 == "installed" { print $4 }' || true
}

pkg_installed() {
    [[ -n $(pkg_version "$1") ]]
}

_ML_APT_UPDATED=false
APT_OPTIONS=(-y -q -o DPkg::Lock::Timeout=300
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

# apt_update: `apt-get update` at most once per step run, and again after apt_sources_changed.
apt_sources_changed() {
    _ML_APT_UPDATED=false
}
apt_update() {
    if [[ $_ML_APT_UPDATED == true ]]; then
        return 0
    fi
    DEBIAN_FRONTEND=noninteractive RETRY_TIMEOUT=900 retry 5 5 apt-get "${APT_OPTIONS[@]}" update ||
        die "apt-get update failed"
    _ML_APT_UPDATED=true
}

# apt_install <package[=version]>... (each attempt may take up to 15 minutes: the dpkg lock wait
# alone can be 5 minutes on a fresh cloud host running unattended-upgrades)
apt_install() {
    apt_update
    log "installing $*"
    DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a RETRY_TIMEOUT=900 retry 5 5 apt-get "${APT_OPTIONS[@]}" \
        install --no-install-recommends --allow-change-held-packages --allow-downgrades "$@" ||
        die "apt-get install $* failed"
}

# fetch_keyring <url> <keyring-path> [dearmor]: download an apt signing key once.
fetch_keyring() {
    local url=$1 dest=$2 dearmor=${3:-} tmp
    if [[ -s $dest ]]; then
        return 1
    fi
    mkdir -p -- "$(dirname -- "$dest")"
    tmp=$(mktemp "${dest}.XXXXXX")
    cleanup_later "$tmp" "${tmp}.gpg"
    retry 5 2 curl -fsSL --max-time 120 -o "$tmp" "$url" || die "cannot download ${url}"
    if [[ $dearmor == dearmor ]]; then
        gpg --batch --yes --dearmor -o "${tmp}.gpg" "$tmp" || die "cannot dearmor ${url}"
        mv -f -- "${tmp}.gpg" "$tmp"
    fi
    chmod 0644 "$tmp"
    mv -f -- "$tmp" "$dest"
    log "installed apt keyring ${dest#"${ROOT:-}"}"
    return 0
}

# ---- systemd ---------------------------------------------------------------------------------

# ensure_enabled <unit> [--now]: enable (and with --now also start) a unit unless it already is.
ensure_enabled() {
    local unit=$1 now=${2:-}
    if [[ $now == --now ]]; then
        if systemctl is-enabled --quiet "$unit" && systemctl is-active --quiet "$unit"; then
            return 0
        fi
        systemctl enable --now "$unit" || die "cannot enable and start ${unit}"
    else
        if systemctl is-enabled --quiet "$unit"; then
            return 0
        fi
        systemctl enable "$unit" || die "cannot enable ${unit}"
    fi
    log "enabled ${unit}"
}

# ---- kubeadm ---------------------------------------------------------------------------------

KUBE_DIR="${ROOT:-}/etc/kubernetes"
# shellcheck disable=SC2034 # used by the step scripts
ADMIN_CONF="${KUBE_DIR}/admin.conf"
KUBEADM_TIMEOUT=${KUBEADM_TIMEOUT:-1200}

# to_output_log: filter (stdin) that redacts and stores the output of tools: in ML_OUTPUT_LOG
# (root-only, on the host) for steps that handle secrets, on stderr otherwise.
to_output_log() {
    if [[ -z ${ML_OUTPUT_LOG:-} ]]; then
        redact_secrets >&2
        return 0
    fi
    local file="${ROOT:-}${ML_OUTPUT_LOG}"
    mkdir -p -- "$(dirname -- "$file")"
    (umask 077 && redact_secrets >>"$file")
}

# run_kubeadm <args...>: kubeadm bounded by KUBEADM_TIMEOUT, its output (which includes the join
# command with the token and certificate key) redacted, in the output log. Returns its status.
run_kubeadm() {
    local rc=0
    timeout --kill-after=30 "${KUBEADM_TIMEOUT}" kubeadm "$@" 2>&1 | to_output_log || rc=$?
    if ((rc != 0)) && [[ -n ${ML_OUTPUT_LOG:-} ]]; then
        log "kubeadm $1 failed; its output is in ${ML_OUTPUT_LOG} on this host"
    fi
    return "$rc"
}

# write_control_plane_files: the encryption-at-rest config and audit policy the kube-apiserver
# static pod mounts (from ENCRYPTION_CONFIG_B64 and AUDIT_POLICY_B64), and with an OIDC
# provider its authentication config (AUTHENTICATION_CONFIG_B64). Returns 0 when the
# encryption config changed.
write_control_plane_files() {
    require_param ENCRYPTION_CONFIG_B64 AUDIT_POLICY_B64
    mkdir -p -- "${KUBE_DIR}/encryption" "${KUBE_DIR}/audit"
    chmod 0700 "${KUBE_DIR}/encryption"
    write_b64_param AUDIT_POLICY_B64 "${KUBE_DIR}/audit/policy.yaml" 0600 || true
    if [[ -n ${AUTHENTICATION_CONFIG_B64:-} ]]; then
        write_b64_param AUTHENTICATION_CONFIG_B64 "${KUBE_DIR}/encryption/authentication.yaml" 0600 || true
    fi
    write_b64_param ENCRYPTION_CONFIG_B64 "${KUBE_DIR}/encryption/config.yaml" 0600
}

# node_ready <node>: print the node's Ready condition (True, False, Unknown), or nothing when the
# node does not exist. Fails when the API server cannot be asked.
node_ready() {
    local name=$1 found
    found=$(retry 5 5 kubectl --kubeconfig "${ADMIN_CONF}" get node "${name}" --ignore-not-found \
        -o 'jsonpath={.metadata.name} {.status.conditions[?(@.type=="Ready")].status}') || return 1
    if [[ -n ${found} ]]; then
        echo "${found#* }"
    fi
}

PATCHES_DIR="${KUBE_DIR}/ml-platform-patches"

# write_etcd_patch: this control plane's etcd patch (ETCD_PATCH_B64, the metrics address) where
# the kubeadm documents' `patches.directory` points.
write_etcd_patch() {
    if [[ -n ${ETCD_PATCH_B64:-} ]]; then
        write_b64_param ETCD_PATCH_B64 "${PATCHES_DIR}/etcd+strategic.yaml" 0600 || true
    fi
}

# check_no_leftovers <what>: refuse to run kubeadm init/join over state of an earlier member
# (resetting it automatically could destroy a live etcd member).
check_no_leftovers() {
    local path
    for path in "${KUBE_DIR}/manifests/kube-apiserver.yaml" "${KUBE_DIR}/manifests/etcd.yaml" \
        "${KUBE_DIR}/pki/ca.crt" "${ROOT:-}/var/lib/kubelet/config.yaml" \
        "${ROOT:-}/var/lib/etcd/member"; do
        if [[ -e ${path} ]]; then
            die "cannot $1: ${path#"${ROOT:-}"} exists from an earlier cluster member but the node" \
                "is not a working member; inspect it and run 'kubeadm reset -f' before retrying"
        fi
    done
}
