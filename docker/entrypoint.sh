#!/bin/sh
# The image's commands: `api` (the default), `worker`, `migrate`; anything else runs as given
# (`docker run … transcribo node -v`, `… sh`). exec: node replaces this shell, so tini's signals reach it.
set -e
case "${1:-api}" in
  api) [ $# -gt 0 ] && shift; exec node /app/dist/server.js "$@" ;;
  worker) shift; exec node /app/dist/worker.js "$@" ;;
  migrate) shift; exec node /app/dist/cli/migrate.js "$@" ;;
  *) exec "$@" ;;
esac
