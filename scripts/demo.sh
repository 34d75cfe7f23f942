#!/usr/bin/env bash
# `make demo`: the tutorial project on DuckDB, built three times with orc, in under 100 lines.
# tests/integration/test_demo.py checks these lines (not their timings) against a golden copy.
set -euo pipefail
orc="$(pwd)/.venv/bin/orc"
cd tutorial
export DBT_PROFILES_DIR=.

step() { printf '\n== %s\n' "$1"; }
show() { printf '$ orc %s\n' "$*"; "$orc" "$@"; }

step "Set-up: a fresh DuckDB file, the orchestra_dbt package, raw data (batch 1), an empty state"
rm -rf .orchestra tutorial.duckdb target
"$orc" dbt deps --quiet
"$orc" dbt run-operation load_raw_data --quiet
"$orc" state init

step "1. First run: nothing is recorded yet, so every node is built (dbt's own lines: warnings only)"
show dbt build --log-level warn

step "2. Nothing changed: every node is reused, and the time its build would take is saved"
show dbt build --log-level warn

step "3. New rows land in raw.orders: orc plan shows what now must run, and why"
"$orc" dbt run-operation load_raw_data --args '{batch: 2}' --quiet
show plan --resource-type model --resource-type snapshot
show dbt build --log-level warn

step "The plan of the last run, as a page: the DAG coloured by decision, each reason on hover"
echo "open tutorial/target/orc_plan.html in a browser (orc plan --html PATH writes one for any plan)"
