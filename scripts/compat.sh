#!/usr/bin/env bash
# Test orc on one supported (Python, dbt-core) pair other than the main one:
#   scripts/compat.sh python3.13 1.12 [all]
# makes a virtual environment under .venv-compat/, installs orc with that dbt-core release
# and runs the tests marked `compat`: the unit tests that run dbt-core's code (its Jinja, its
# click, its artifacts) and stateful builds of the tutorial on DuckDB, with and without the
# dbt package. With `all`, the whole unit suite runs too (once per Python release: the pure
# core depends on Python, not on dbt-core). dbt-core 1.12 needs
# dbt-core-experimental-parser, which downloads a binary when it is built; 1.12 runs
# without it, so it is installed over 1.11's dependencies with --no-deps.
set -euo pipefail
cd "$(dirname "$0")/.."

python=$1
dbt=$2
units=${3:-compat}
venv=".venv-compat/${python}-dbt${dbt}"
# pyenv's shim for an interpreter that is not the selected version: use it directly.
if ! "$python" -c '' 2>/dev/null && command -v pyenv >/dev/null 2>&1; then
  minor=${python#python}
  found=$(ls -d "$(pyenv root)/versions/$minor".*/bin/"$python" 2>/dev/null | sort -V | tail -1)
  python=${found:-$python}
fi
log="$venv.log"
mkdir -p .venv-compat

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
# The whole unit suite needs the cloud clients; the `compat` tests need only the test tools.
extras=duckdb,test
if [ "$units" = all ]; then extras=duckdb,dev; fi
pip=("$venv/bin/pip" install -q --no-compile)
{
  "${pip[@]}" --upgrade pip
  if [ "$dbt" = "1.12" ]; then
    "${pip[@]}" -e ".[$extras]" 'dbt-core>=1.11,<1.12'
    "${pip[@]}" --no-deps 'dbt-core==1.12.*'
    "${pip[@]}" metricflow python-dotenv
  else
    "${pip[@]}" -e ".[$extras]" "dbt-core==${dbt}.*"
  fi
} >"$log" 2>&1 || { cat "$log" >&2; echo "installing dbt-core $dbt on $python failed" >&2; exit 1; }

version=$("$venv/bin/python" -c 'from dbt.version import __version__; print(__version__)')
case "$version" in
  "$dbt".*) ;;
  *) echo "expected dbt-core $dbt in $venv, found $version" >&2; exit 1 ;;
esac
echo "== $("$venv/bin/python" --version) with dbt-core $version"
export PATH="$PWD/$venv/bin:$PATH"
pytest=("$venv/bin/pytest" -q -p no:cacheprovider --basetemp "$PWD/$venv.tmp")
# Only the modules that hold `compat` tests: others import the cloud clients.
marked=$(grep -l "pytest.mark.compat" tests/unit/test_*.py tests/integration/test_*.py)
integration=$(grep -l "pytest.mark.compat" tests/integration/test_*.py)
# No PostgreSQL server here: its cases run in the main suite, not as skips here.
chosen="compat and not postgres"
if [ "$units" = all ]; then
  "${pytest[@]}" tests/unit
  "${pytest[@]}" -m "$chosen" $integration
else
  "${pytest[@]}" -m "$chosen" $marked
fi
