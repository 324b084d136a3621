#!/bin/sh
# Same behaviour as the official Traefik image's entrypoint: flags alone, or a Traefik
# subcommand, are run by traefik; anything else is run as a command.
set -e

# First arg is `-f` or `--some-option`.
if [ "${1#-}" != "$1" ]; then
    set -- traefik "$@"
fi

# A Traefik subcommand (e.g. `healthcheck`, `version`) goes through traefik too.
if traefik "$1" --help >/dev/null 2>&1; then
    set -- traefik "$@"
else
    echo "= '$1' is not a Traefik command: assuming shell execution." 1>&2
fi

exec "$@"
