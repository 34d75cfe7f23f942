#!/usr/bin/env bash
# Run the compatibility tests on every supported (Python, dbt-core) pair besides the main
# environment's (Python 3.11 with dbt-core 1.11), one after the other (the whole unit suite
# once on Python 3.13, the `compat` tests on every pair); each pair's output
# goes to .venv-compat/<pair>.log and one line per pair says how it went.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .venv-compat
failed=0
for pair in "python3.11 1.10" "python3.11 1.12" "python3.13 1.11 all" "python3.13 1.10" "python3.13 1.12"; do
  set -- $pair
  log=".venv-compat/$1-dbt$2.tests.log"
  started=$SECONDS
  if scripts/compat.sh "$@" >"$log" 2>&1; then
    echo "compat: $1 with dbt-core $2 passed ($((SECONDS - started)) s)"
  else
    failed=1
    echo "compat: $1 with dbt-core $2 FAILED ($((SECONDS - started)) s); the end of $log:"
    tail -40 "$log"
  fi
done
exit $failed
