#!/usr/bin/env bash
# Run the compatibility tests beside the main environment (Python 3.11 with dbt-core 1.11),
# one pair after the other, so that every supported Python release and every supported
# dbt-core release is tested at least once: what depends on dbt-core (the `compat` tests)
# does not depend on Python, and the pure core (the whole unit suite) depends on Python
# only. Python 3.13 runs the whole unit suite with dbt-core 1.10; Python 3.12 runs the
# `compat` tests with dbt-core 1.12. Each pair's output goes to
# .venv-compat/<pair>.tests.log and one line per pair says how it went.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .venv-compat
failed=0
for pair in "python3.13 1.10 all" "python3.12 1.12"; do
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
