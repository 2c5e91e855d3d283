#!/usr/bin/env bash
# Print the path of a Python 3.12 interpreter for the project's virtual environment.
#
# Sigap runs on Python 3.12 (3.11's asyncio.wait_for loses a cancellation that arrives as the awaited
# call completes, CPython gh-86296; redis-py wraps every command in it). Looked for, in order:
# $SIGAP_PYTHON_BIN, `python3.12` on PATH, pyenv's 3.12 versions, Debian's /usr/bin/python3.12.
set -euo pipefail
_sigap_tag=python
# shellcheck source=deploy/local/lib.sh
source "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"

works() { [[ -n "$1" ]] && "$1" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; }

candidates=("${SIGAP_PYTHON_BIN:-}" "$(command -v python3.12 2>/dev/null || true)")
# pyenv's versions, also when pyenv itself is not on PATH (a CI shell without the user's profile)
roots=("${PYENV_ROOT:-}" "${HOME:-/root}/.pyenv")
command -v pyenv >/dev/null 2>&1 && roots=("$(pyenv root 2>/dev/null || true)" "${roots[@]}")
for root in "${roots[@]}"; do
  [[ -n "$root" ]] || continue
  for v in $(ls -1d "$root"/versions/3.12* 2>/dev/null | sort -rV); do candidates+=("$v/bin/python3.12"); done
done
candidates+=(/usr/bin/python3.12 /usr/local/bin/python3.12)

for c in "${candidates[@]}"; do
  if works "$c"; then
    printf '%s\n' "$c"
    exit 0
  fi
done
missing "Python 3.12 (python3.12 on PATH, a pyenv 3.12 version, or SIGAP_PYTHON_BIN=/path/to/python3.12)"
