#!/bin/sh
# As the official haproxy image's entrypoint: flags alone go to haproxy, and haproxy runs in
# master-worker mode (-W) without daemonizing (-db), so signals and logs work in a container.
set -e
# First arg is `-f` or `--some-option`.
if [ "${1#-}" != "$1" ]; then
	set -- haproxy "$@"
fi
if [ "$1" = 'haproxy' ]; then
	shift
	set -- haproxy -W -db "$@"
fi
exec "$@"
