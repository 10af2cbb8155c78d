#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
#
# prepare-host, part 0.5: the SSH user's authorized keys: the public half of the stack's
# sshPrivateKey and `sshAuthorizedKeys`, in a block this step owns in ~/.ssh/authorized_keys
# (or, with EXCLUSIVE_KEYS=true on instances this program created, the whole file). Rotating the
# key (docs/operations/rotate-keys.md): add the next key to sshAuthorizedKeys, `pulumi up`;
# switch sshPrivateKey to it, `pulumi up` again (the old key leaves the block).
# The key this very connection uses is always in the list the program sends.
# Parameters: SSH_USER, AUTHORIZED_KEYS_B64 (one OpenSSH public key per line), EXCLUSIVE_KEYS;
#   without them the keys are left alone.
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/../common.sh"
fi
ML_STEP="prepare-host/ssh-keys"

: "${EXCLUSIVE_KEYS:=false}"

# The parts of prepare-host run in one shell: this part must not exit when it has nothing to do.
manage_ssh_keys() {
    local keys line passwd_line home ssh_dir file others wanted
    require_param SSH_USER AUTHORIZED_KEYS_B64
    require_bool EXCLUSIVE_KEYS
    [[ ${SSH_USER} =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || die "SSH_USER is not a user name: \"${SSH_USER}\""
    keys=$(decode_b64_param AUTHORIZED_KEYS_B64) || exit 1
    while IFS= read -r line; do
        [[ ${line} =~ ^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521))\ [A-Za-z0-9+/]+={0,3}$ ]] ||
            die "AUTHORIZED_KEYS_B64 holds a line that is not a public key"
    done <<<"${keys}"

    passwd_line=$(getent passwd "${SSH_USER}") || die "user ${SSH_USER} does not exist"
    home=$(cut -d: -f6 <<<"${passwd_line}")
    [[ ${home} == /* ]] || die "user ${SSH_USER} has no home directory"
    ssh_dir="${ROOT:-}${home}/.ssh"
    file="${ssh_dir}/authorized_keys"
    local BEGIN="# BEGIN ml-platform managed keys (prepare-host/ssh-keys)"
    local END="# END ml-platform managed keys"

    mkdir -p -- "${ssh_dir}"
    others=""
    if [[ ${EXCLUSIVE_KEYS} == false && -f ${file} ]]; then
        others=$(awk -v b="${BEGIN}" -v e="${END}" \
            '$0 == b { skip = 1; next } $0 == e { skip = 0; next } !skip { print }' "${file}")
    fi
    wanted=$(printf '%s\n' "${BEGIN}" "${keys}" "${END}")
    if [[ -n ${others} ]]; then
        wanted=$(printf '%s\n' "${others}" "${wanted}")
    fi
    if write_file "${file}" 0600 <<<"${wanted}"; then
        log "authorized keys of ${SSH_USER} updated"
    fi
    chown "${SSH_USER}:" "${ssh_dir}" "${file}"
    chmod 0700 "${ssh_dir}"
}

if [[ -z ${SSH_USER:-} && -z ${AUTHORIZED_KEYS_B64:-} ]]; then
    log "no keys to manage; authorized_keys left alone"
else
    manage_ssh_keys
fi
