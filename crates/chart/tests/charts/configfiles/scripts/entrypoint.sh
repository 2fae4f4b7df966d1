#!/bin/sh
set -e
echo "starting {{ not a template }}"
exec /usr/bin/gateway "$@"
