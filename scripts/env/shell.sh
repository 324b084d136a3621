# shellcheck shell=bash
# Source this (". scripts/env/shell.sh") to use plain `pulumi` the way cc-ci does: the built CLI on
# PATH (when scripts/env/pulumi.sh built one), the same backend and the same passphrase.
_cc_ci_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
. "$_cc_ci_dir/scripts/env/versions.env"
_cc_ci_bin="${CC_CI_CACHE:-/var/cache/cc-ci}/pulumi/v$PULUMI_VERSION/bin"
[ -x "$_cc_ci_bin/pulumi" ] && export PATH="$_cc_ci_bin:$PATH"
export PATH="$_cc_ci_dir/node_modules/.bin:$PATH"
export CC_CI_HOME="${CC_CI_HOME:-/var/lib/cc-ci}"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$CC_CI_HOME/state}"
mkdir -p "$CC_CI_HOME/state"
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  [ -f "$CC_CI_HOME/passphrase" ] || (umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$CC_CI_HOME/passphrase")
  export PULUMI_CONFIG_PASSPHRASE_FILE="$CC_CI_HOME/passphrase"
fi
unset _cc_ci_dir _cc_ci_bin
