#!/usr/bin/env bash
# `make demo`: the tutorial project on DuckDB, built three times with orc.
set -euo pipefail
orc="$(pwd)/.venv/bin/orc"
cd tutorial
export DBT_PROFILES_DIR=.

step() { printf '\n\033[1m== %s\033[0m\n' "$1"; }

step "Start from scratch: remove the demo's database and state from any earlier demo"
rm -rf .orchestra tutorial.duckdb

step "Install the orchestra_dbt package and load the raw source tables"
"$orc" dbt deps --quiet
"$orc" dbt run-operation load_raw_data --quiet
"$orc" state init

step "First run: nothing is recorded yet, so everything is built"
"$orc" dbt build

step "Second run: nothing changed, so everything is reused (reasons shown)"
ORCHESTRA_DBT_DEBUG=true "$orc" dbt build

step "New rows land in raw.orders: only what reads them runs"
"$orc" dbt run-operation load_raw_data --args '{batch: 2}' --quiet
ORCHESTRA_DBT_DEBUG=true "$orc" dbt build

step "What the state holds"
"$orc" state show
