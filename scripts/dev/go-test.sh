#!/usr/bin/env bash
# The Go helpers' own tests (`npm run test:go`): ccci-compose (Docker's compose loader, swarmkit's
# templates, the bounds on what a recipe can expand to) and ccci-traefik (Traefik's label decoder
# and rule parser, with the decoder oracle), built with the machine's Go as setup.sh builds them.
set -euo pipefail
cd "$(dirname "$0")/../.."
# Each module alone, as setup.sh builds it (not through go/go.work, which merges their requirements).
export GOTOOLCHAIN=local GOWORK=off
(cd go/compose-helper && go vet ./... && go test ./...)
scripts/env/traefik-helper.sh --test
