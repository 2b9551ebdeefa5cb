#!/bin/sh
# Like the official image's entrypoint: a config file argument means "serve it".
set -e
case "$1" in
    *.yaml|*.yml) set -- registry serve "$@" ;;
    serve|garbage-collect|help|-*) set -- registry "$@" ;;
esac
exec "$@"
