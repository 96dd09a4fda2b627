#!/bin/sh
# As the official image does: a server in the foreground that other containers may reach
# (protected mode would refuse them, as no password is set).
set -e
if [ "$1" = redis-server ]; then
  shift
  exec redis-server --protected-mode no --dir /data "$@"
fi
exec "$@"
