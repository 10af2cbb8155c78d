#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
#
# prepare-host, part 1: on a GPU host whose driver comes with the OS image, the driver works.
# The GPU operator installs the container toolkit on every GPU node; here the driver is only
# checked, so that a host without one stops now, before minutes of installing, and not when
# its first GPU pod never starts.
# Parameters: GPU (true|false), GPU_DRIVER (preinstalled|managed).
set -euo pipefail
if ! declare -F fail >/dev/null; then
    # shellcheck source=common.sh
    . "$(dirname -- "${BASH_SOURCE[0]}")/../common.sh"
fi
ML_STEP="prepare-host/gpu-driver"

: "${GPU:=false}"
: "${GPU_DRIVER:=preinstalled}"
require_bool GPU
case "${GPU_DRIVER}" in
    preinstalled | managed) ;;
    *) die "GPU_DRIVER must be \"preinstalled\" or \"managed\", got \"${GPU_DRIVER}\"" ;;
esac
if [[ ${GPU} == true && ${GPU_DRIVER} == preinstalled ]] && ! nvidia-smi >/dev/null 2>&1; then
    die "GPU=true with GPU_DRIVER=preinstalled, but nvidia-smi fails: install the NVIDIA" \
        "driver in the host image first (or use GPU_DRIVER=managed to let the GPU Operator do it)"
fi
