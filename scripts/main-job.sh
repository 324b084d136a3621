#!/usr/bin/env bash
# The main job, end to end: environment ready, warm layer up (created or updated; a no-op when
# current), one CI run of the bundled SSO example with its real OIDC login check, its teardown and
# residue check, and an audit of the host.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/env/setup.sh
bin/cc-ci warm up
bin/cc-ci warm status
bin/cc-ci run examples/sso
bin/cc-ci audit
