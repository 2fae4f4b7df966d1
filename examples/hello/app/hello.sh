#!/bin/sh
# The sample app's entrypoint: prints the motd, then serves static/ with httpd. It runs on
# a base image with a shell and httpd (busybox); built on `scratch` it is only looked at.
if [ "$1" = "--check" ]; then test -f "$HELLO_HOME/static/index.html"; exit $?; fi
cat /etc/hello/motd
echo "${GREETING:-hi}; serving $HELLO_HOME/static on port ${2:-8080}"
exec httpd -f -p "${2:-8080}" -h "$HELLO_HOME/static"
