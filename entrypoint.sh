#!/usr/bin/env bash
# The container's entrypoint: migrate the database, then become `threadloom serve`.
#
#   entrypoint.sh [SERVE OPTIONS...]   migrate, then `threadloom serve SERVE OPTIONS...`
#   entrypoint.sh COMMAND [ARGS...]    run COMMAND instead (e.g. `threadloom keys create --admin`)
#
# Every THREADLOOM_* variable applies (THREADLOOM_DATABASE_URL, THREADLOOM_WORKERS,
# THREADLOOM_LOG_FORMAT...). THREADLOOM_HOST defaults to 0.0.0.0, where `threadloom serve`
# refuses to start until an API key exists: create the admin key first with the second form,
# or set THREADLOOM_INSECURE=true (never on a network you do not trust).
set -euo pipefail

if [[ $# -gt 0 && $1 != -* ]]; then
    exec "$@"
fi

export THREADLOOM_HOST="${THREADLOOM_HOST:-0.0.0.0}"
export THREADLOOM_PORT="${THREADLOOM_PORT:-8000}"
if [[ -n ${PROMETHEUS_MULTIPROC_DIR:-} ]]; then
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi

case ${THREADLOOM_INSECURE:-false} in
    1 | true | True | TRUE | yes | on) set -- --insecure "$@" ;;
esac

threadloom migrate
exec threadloom serve "$@"
