#!/usr/bin/env bash
# The main job, end to end: environment ready, warm layer up (created or updated; a no-op when
# current), a CI run of the bundled SSO example with its real OIDC login check and one of the
# file-sharing example (a login, S3 buckets and a PostgreSQL database of the run's own on the warm
# layer's servers), and one of the front example with the web example of the catalogue (examples/)
# beside it, each torn down and checked for residue, and an audit of the host.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/env/setup.sh
bin/cc-ci warm up
bin/cc-ci warm status
bin/cc-ci run examples/sso
bin/cc-ci run examples/files
bin/cc-ci run examples/front --catalogue examples
bin/cc-ci audit
