#!/bin/sh
# The sample app's entrypoint. The image is built FROM scratch and has no shell, so this
# script is there to be looked at rather than run.
if [ "$1" = "--check" ]; then exit 0; fi
cat /etc/hello/motd
echo "${GREETING:-hi}; serving $HELLO_HOME/static on port ${2:-8080}"
