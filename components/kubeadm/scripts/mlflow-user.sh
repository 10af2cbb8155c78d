#!/usr/bin/env bash
# mlflow-user: an MLflow user of an application's own (the MLOps example's), made through
# MLflow's basic-auth REST API as MLflow's admin, whose credentials the step reads from their
# Secret in the cluster (they never leave MLflow's namespace). The user gets PERMISSION on one
# experiment and one registered model, which the admin creates when they are missing, so that
# a user made again (a re-enabled example) still reaches what the previous one made. An
# existing user gets the password again (idempotent; a new password takes effect). With
# ACTION=delete the user is deleted (its grants with it; its runs and models stay); when MLflow
# is gone or does not answer, a delete leaves the user and says so.
#
# MLflow is reached through `kubectl port-forward` to its Service, on loopback, with the Host
# header of its in-cluster name (MLflow refuses Host headers it does not know). The admin's
# credentials reach curl in a 0600 file, the user's password in a 0600 request body: nothing
# secret is on a command line. Runs on the first control plane, quiet (ML_OUTPUT_LOG).
#
# Parameters: ACTION (apply|delete), USERNAME, NAMESPACE (MLflow's), SERVICE, PORT,
#   HOST_HEADER, ADMIN_SECRET (keys username, password), TIMEOUT_SECONDS, POLL_SECONDS;
#   with apply: PASSWORD (16-128 letters and digits), EXPERIMENT, MODEL, PERMISSION.
#
# MLflow facts (mlflow 3.15.1, the chart's server: mlflow/server/auth/routes.py, __init__.py,
# sqlalchemy_store.py): POST /api/2.0/mlflow/users/create {username, password}, an existing
# user is RESOURCE_ALREADY_EXISTS (HTTP 400); GET /api/2.0/mlflow/users/get?username= (404
# when missing); PATCH /api/2.0/mlflow/users/update-password (an admin needs no current
# password); DELETE /api/2.0/mlflow/users/delete {username} deletes the user's grants too;
# grants are POST /api/3.0/mlflow/users/permissions/grant {username, resource_type
# (experiment|registered_model), resource_id (experiment id | model name), permission}, a
# second grant of the same resource is RESOURCE_ALREADY_EXISTS, /revoke removes one, and
# GET /api/3.0/mlflow/users/permissions/get answers the permission a request would get.
# Admins pass every permission check.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
fi
ML_STEP="mlflow-user"

require_param ACTION USERNAME NAMESPACE SERVICE PORT HOST_HEADER ADMIN_SECRET TIMEOUT_SECONDS \
    POLL_SECONDS
NAME_RE='^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'
LABEL_RE='^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'
[[ $USERNAME =~ $NAME_RE ]] || die "USERNAME must be letters, digits, '.', '_' and '-'"
[[ $NAMESPACE =~ $LABEL_RE ]] || die "NAMESPACE must be a DNS label"
[[ $SERVICE =~ $LABEL_RE ]] || die "SERVICE must be a DNS label"
[[ $ADMIN_SECRET =~ $LABEL_RE ]] || die "ADMIN_SECRET must be a DNS label"
[[ $PORT =~ ^[1-9][0-9]{0,4}$ ]] || die "PORT must be a port number"
[[ $HOST_HEADER =~ ^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$ ]] || die "HOST_HEADER must be a host name"
[[ $TIMEOUT_SECONDS =~ ^[1-9][0-9]*$ ]] || die "TIMEOUT_SECONDS must be a positive integer"
[[ $POLL_SECONDS =~ ^[1-9][0-9]*$ ]] || die "POLL_SECONDS must be a positive integer"
case $ACTION in
    apply)
        require_param PASSWORD EXPERIMENT MODEL PERMISSION
        # Letters and digits only: it goes into a JSON body as it is.
        [[ $PASSWORD =~ ^[A-Za-z0-9]{16,128}$ ]] || die "PASSWORD must be 16 to 128 letters and digits"
        [[ $EXPERIMENT =~ $NAME_RE ]] || die "EXPERIMENT must be letters, digits, '.', '_' and '-'"
        [[ $MODEL =~ $NAME_RE ]] || die "MODEL must be letters, digits, '.', '_' and '-'"
        [[ $PERMISSION =~ ^(READ|USE|EDIT|MANAGE)$ ]] || die "PERMISSION must be READ, USE, EDIT or MANAGE"
        ;;
    delete) ;;
    *) die "ACTION must be apply or delete, got \"${ACTION}\"" ;;
esac
[[ -f ${ADMIN_CONF} ]] || die "no /etc/kubernetes/admin.conf: the cluster is not initialised"

kctl() {
    timeout --kill-after=5 60 kubectl --kubeconfig "${ADMIN_CONF}" "$@"
}
umask 077  # the admin's credentials and the request bodies are files of root's only
work=$(mktemp -d)
cleanup_later "$work"
forward_pid=""
stop_forward() {
    if [[ -n $forward_pid ]]; then
        kill "$forward_pid" 2>/dev/null || true
        wait "$forward_pid" 2>/dev/null || true
        forward_pid=""
    fi
}
trap 'stop_forward; _ml_cleanup' EXIT

# ---- MLflow's Service and its admin's credentials ---------------------------------------------

if ! kctl -n "$NAMESPACE" get service "$SERVICE" -o name >/dev/null 2>&1 ||
    ! kctl -n "$NAMESPACE" get secret "$ADMIN_SECRET" -o name >/dev/null 2>&1; then
    if [[ $ACTION == delete ]]; then
        log "MLflow is gone (no Service or admin Secret in ${NAMESPACE}): no user ${USERNAME} to delete"
        exit 0
    fi
    die "MLflow is not installed: no Service ${NAMESPACE}/${SERVICE} or Secret ${NAMESPACE}/${ADMIN_SECRET}"
fi
# secret_value <key>: a key of the admin Secret, decoded.
secret_value() {
    local encoded
    encoded=$(kctl -n "$NAMESPACE" get secret "$ADMIN_SECRET" -o "jsonpath={.data.$1}" 2>/dev/null) ||
        return 1
    [[ -n $encoded ]] || return 1
    base64 --decode <<<"$encoded"
}
admin_user=$(secret_value username) || die "Secret ${NAMESPACE}/${ADMIN_SECRET} has no username"
admin_password=$(secret_value password) || die "Secret ${NAMESPACE}/${ADMIN_SECRET} has no password"
# curl's config syntax: a quoted value with \ and " escaped (printf is a shell builtin).
quoted() {
    local value=${1//\\/\\\\}
    printf '"%s"' "${value//\"/\\\"}"
}
printf 'user = %s\n' "$(quoted "${admin_user}:${admin_password}")" >"$work/auth"
unset admin_password

# ---- MLflow through a port-forward --------------------------------------------------------------

local_port=""
# open_forward: a port-forward to the Service on a free loopback port (local_port); fails when
# kubectl does not report one within 20 s.
open_forward() {
    stop_forward
    local_port=""
    : >"$work/forward"
    kubectl --kubeconfig "${ADMIN_CONF}" -n "$NAMESPACE" port-forward --address 127.0.0.1 \
        "service/${SERVICE}" ":${PORT}" >"$work/forward" 2>&1 </dev/null &
    forward_pid=$!
    local attempt
    for ((attempt = 0; attempt < 20; attempt++)); do
        local_port=$(sed -nE 's/^Forwarding from 127\.0\.0\.1:([0-9]+) -> [0-9]+$/\1/p' \
            "$work/forward" | head -n 1)
        [[ -n $local_port ]] && return 0
        kill -0 "$forward_pid" 2>/dev/null || break
        sleep 1
    done
    to_output_log <"$work/forward"
    stop_forward
    return 1
}

# api <method> <path> [<json body file>]: the HTTP status of a request to MLflow as its admin
# (000 when it did not answer); the answer is in $work/answer.
api() {
    local method=$1 path=$2 body=${3:-}
    local args=(--silent --show-error --max-time 30 --config "$work/auth" -o "$work/answer"
        -w '%{http_code}' -X "$method" -H "Host: ${HOST_HEADER}" -H 'Accept: application/json')
    if [[ -n $body ]]; then
        args+=(-H 'Content-Type: application/json' --data-binary "@${body}")
    fi
    : >"$work/answer"
    curl "${args[@]}" "http://127.0.0.1:${local_port}${path}" 2>"$work/curl.err" || true
    to_output_log <"$work/curl.err"
}

# body <json>: a request body in a 0600 file; prints its path.
body() {
    printf '%s' "$1" >"$work/body"
    printf '%s' "$work/body"
}

answer_has() {
    grep -Eq "$1" "$work/answer"
}

# expect <status> <wanted> <what>: stop unless the request answered <wanted>.
expect() {
    if [[ $1 != "$2" ]]; then
        to_output_log <"$work/answer"
        die "MLflow answered HTTP $1 to ${3}; its answer is in ${ML_OUTPUT_LOG:-the output above}"
    fi
}

# Until MLflow answers a question about the user (200: it exists; 404: it does not).
user_status=""
deadline=$((SECONDS + TIMEOUT_SECONDS))
while true; do
    if [[ -n $local_port ]] || open_forward; then
        user_status=$(api GET "/api/2.0/mlflow/users/get?username=${USERNAME}")
        case $user_status in
            200 | 404) break ;;
            401 | 403) die "MLflow refused the admin credentials of Secret ${NAMESPACE}/${ADMIN_SECRET}" ;;
            *) stop_forward && local_port="" ;;
        esac
    fi
    if ((SECONDS >= deadline)); then
        if [[ $ACTION == delete ]]; then
            warn "MLflow does not answer: user ${USERNAME} is left in it; delete it as MLflow's admin"
            exit 0
        fi
        die "MLflow in ${NAMESPACE} does not answer after ${TIMEOUT_SECONDS}s (last answer: HTTP" \
            "${user_status:-none}); kubectl -n ${NAMESPACE} get pods"
    fi
    log "waiting for MLflow (HTTP ${user_status:-no port-forward yet})"
    sleep "$POLL_SECONDS"
done

# ---- delete ------------------------------------------------------------------------------------

if [[ $ACTION == delete ]]; then
    if [[ $user_status == 404 ]]; then
        log "MLflow has no user ${USERNAME}"
        exit 0
    fi
    status=$(api DELETE /api/2.0/mlflow/users/delete "$(body "{\"username\": \"${USERNAME}\"}")")
    expect "$status" 200 "deleting user ${USERNAME}"
    log "user ${USERNAME} deleted from MLflow (its runs and models stay)"
    exit 0
fi

# ---- the user and its password -------------------------------------------------------------------

credentials="{\"username\": \"${USERNAME}\", \"password\": \"${PASSWORD}\"}"
if [[ $user_status == 404 ]]; then
    status=$(api POST /api/2.0/mlflow/users/create "$(body "$credentials")")
    expect "$status" 200 "creating user ${USERNAME}"
    log "user ${USERNAME} created"
else
    status=$(api PATCH /api/2.0/mlflow/users/update-password "$(body "$credentials")")
    expect "$status" 200 "setting the password of user ${USERNAME}"
    log "user ${USERNAME} exists; its password is set"
fi
rm -f -- "$work/body"

# ---- its experiment and registered model, made by the admin when missing --------------------------

status=$(api GET "/api/2.0/mlflow/experiments/get-by-name?experiment_name=${EXPERIMENT}")
if [[ $status == 404 ]]; then
    status=$(api POST /api/2.0/mlflow/experiments/create "$(body "{\"name\": \"${EXPERIMENT}\"}")")
    expect "$status" 200 "creating experiment ${EXPERIMENT}"
    log "experiment ${EXPERIMENT} created"
else
    expect "$status" 200 "looking up experiment ${EXPERIMENT}"
fi
experiment_id=$(grep -oE '"experiment_id": *"[0-9]+"' "$work/answer" | head -n 1 | grep -oE '[0-9]+') ||
    die "MLflow's answer about experiment ${EXPERIMENT} has no experiment_id"

status=$(api GET "/api/2.0/mlflow/registered-models/get?name=${MODEL}")
if [[ $status == 404 ]]; then
    status=$(api POST /api/2.0/mlflow/registered-models/create "$(body "{\"name\": \"${MODEL}\"}")")
    expect "$status" 200 "creating registered model ${MODEL}"
    log "registered model ${MODEL} created"
else
    expect "$status" 200 "looking up registered model ${MODEL}"
fi

# rank <permission>: MLflow's order of permissions (mlflow/server/auth/permissions.py).
rank() {
    case $1 in
        READ) echo 1 ;;
        USE) echo 2 ;;
        EDIT) echo 3 ;;
        MANAGE) echo 4 ;;
        *) echo 0 ;;
    esac
}

# grant <resource type> <resource id>: PERMISSION for the user, unless it has that or more.
grant() {
    local type=$1 id=$2 status request has
    status=$(api GET "/api/3.0/mlflow/users/permissions/get?username=${USERNAME}&resource_type=${type}&resource_id=${id}")
    expect "$status" 200 "reading the permission of ${USERNAME} on ${type} ${id}"
    has=$(grep -oE '"permission": *"[A-Z_]+"' "$work/answer" | grep -oE '[A-Z_]+"$' | tr -d '"' || true)
    if (($(rank "$has") >= $(rank "$PERMISSION"))); then
        log "${USERNAME} has ${has} on ${type} ${id} already"
        return 0
    fi
    request="{\"username\": \"${USERNAME}\", \"resource_type\": \"${type}\", \"resource_id\": \"${id}\""
    status=$(api POST /api/3.0/mlflow/users/permissions/grant "$(body "${request}, \"permission\": \"${PERMISSION}\"}")")
    if [[ $status == 400 ]] && answer_has '"error_code": *"RESOURCE_ALREADY_EXISTS"'; then
        # A lower grant of its own: replace it.
        status=$(api POST /api/3.0/mlflow/users/permissions/revoke "$(body "${request}}")")
        expect "$status" 200 "revoking the permission of ${USERNAME} on ${type} ${id}"
        status=$(api POST /api/3.0/mlflow/users/permissions/grant "$(body "${request}, \"permission\": \"${PERMISSION}\"}")")
    fi
    expect "$status" 200 "granting ${PERMISSION} on ${type} ${id} to ${USERNAME}"
    log "${USERNAME} has ${PERMISSION} on ${type} ${id}"
}
grant experiment "$experiment_id"
grant registered_model "$MODEL"
log "MLflow user ${USERNAME} is ready"
