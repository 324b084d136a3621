#!/usr/bin/env bash
# Runs ShellCheck over every shell script of the project (by extension or by its #! line), with the
# project's .shellcheckrc (sourced files followed from the script's folder). `npm run lint:sh`.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v shellcheck >/dev/null || { echo "shellcheck is not installed: run scripts/env/setup.sh" >&2; exit 1; }
files=()
while IFS= read -r f; do
  [ -f "$f" ] || continue
  case "$f" in
    *.tmpl) continue ;; # templates rendered into scripts elsewhere, not scripts themselves
    test/fixtures/recipes/*/abra.sh) continue ;; # recipes' files as upstream writes them, read by abra
    *.sh) files+=("$f") ;;
    *) if head -n 1 "$f" | grep -qE '^#!.*[/ ](ba|da)?sh\b'; then files+=("$f"); fi ;;
  esac
done < <(git ls-files)
shellcheck -x "${files[@]}"
echo "shellcheck: ${#files[@]} scripts clean"
