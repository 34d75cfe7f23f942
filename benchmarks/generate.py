"""Generate a synthetic dbt project on DuckDB, deterministically, for benchmarks and tests.

    python benchmarks/generate.py OUT_DIR --models 300 --sources 10 --depth 8 --fan-in 3

The project has `sources` raw tables (created by `dbt run-operation load_sources`, each
with a `loaded_at` column; `--args '{source: 3}'` appends rows to one of them), layers of
models reading sources or earlier layers (a mix of views and tables, one incremental
model), `not_null`/`unique` tests on a share of the models, and a profile for a DuckDB
file inside the project. The same arguments always give the same files.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Shape:
    models: int = 100
    sources: int = 5
    depth: int = 6
    fan_in: int = 3
    view_share: float = 0.4
    test_share: float = 0.5
    seed: int = 7
    rows: int = 1000


ADAPTERS = ("duckdb", "postgres")


def generate(out: Path, shape: Shape, package_dir: Path = REPO, adapter: str = "duckdb") -> Path:
    """Write the project into `out` (created if needed), its profile's default target on
    `adapter` (one of ADAPTERS), and return it."""
    if adapter not in ADAPTERS:
        raise ValueError(f"unknown adapter {adapter!r}: use one of {', '.join(ADAPTERS)}")
    rng = random.Random(shape.seed)
    models_dir = out / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    (out / "macros").mkdir(exist_ok=True)
    (out / "dbt_project.yml").write_text(
        "name: synthetic\nversion: '1.0'\nconfig-version: 2\nprofile: synthetic\n"
        "models:\n  synthetic:\n    +materialized: table\n"
    )
    (out / "profiles.yml").write_text(_PROFILES.replace("target: duckdb", f"target: {adapter}"))
    (out / "packages.yml").write_text(f"packages:\n  - local: {package_dir}\n")
    (out / "pyproject.toml").write_text(
        '[tool.orchestra_dbt]\nuse_stateful = true\nstate_file = ".orchestra/state.json"\n'
    )
    (out / "macros" / "load_sources.sql").write_text(_load_macro(shape))

    sources = [f"src_{i}" for i in range(shape.sources)]
    source_yml = ["version: 2", "sources:", "  - name: raw", f"    schema: {_RAW_SCHEMA}"]
    source_yml += ["    loaded_at_field: loaded_at", "    tables:"]
    source_yml += [f"      - name: {s}" for s in sources]
    (models_dir / "_sources.yml").write_text("\n".join(source_yml) + "\n")

    layers: list[list[str]] = []
    names: list[str] = []
    per_layer = max(1, shape.models // max(1, shape.depth))
    tests_yml = ["version: 2", "models:"]
    for i in range(shape.models):
        layer = min(i // per_layer, shape.depth - 1)
        while len(layers) <= layer:
            layers.append([])
        name = f"m_{i:05d}"
        if layer == 0:
            inputs = [f"{{{{ source('raw', '{rng.choice(sources)}') }}}}"]
        else:
            pool = [m for earlier in layers[max(0, layer - 2) : layer] for m in earlier]
            picked = rng.sample(pool, min(len(pool), rng.randint(1, shape.fan_in)))
            inputs = [f"{{{{ ref('{p}') }}}}" for p in picked]
        materialized = "view" if rng.random() < shape.view_share else "table"
        if i == shape.models - 1 and layer > 0:
            materialized = "incremental"
        (models_dir / f"{name}.sql").write_text(_model_sql(inputs, materialized))
        layers[layer].append(name)
        names.append(name)
        if rng.random() < shape.test_share:
            tests_yml += [
                f"  - name: {name}",
                "    columns:",
                "      - name: id",
                "        data_tests: [not_null]",
            ]
    if len(tests_yml) == 2:
        tests_yml[1] = "models: []"
    (models_dir / "_models.yml").write_text("\n".join(tests_yml) + "\n")
    return out


def _model_sql(inputs: list[str], materialized: str) -> str:
    config = f"{{{{ config(materialized='{materialized}') }}}}\n"
    if materialized == "incremental":
        config = "{{ config(materialized='incremental', unique_key='id') }}\n"
    selects = [f"select id, value, loaded_at from {relation}" for relation in inputs]
    body = "\nunion all\n".join(selects)
    sql = f"{config}select id, sum(value) as value, max(loaded_at) as loaded_at\n"
    sql += f"from (\n{body}\n) as inputs"
    if materialized == "incremental":
        sql += (
            "\n{% if is_incremental() %}"
            "where loaded_at > (select max(loaded_at) from {{ this }}){% endif %}"
        )
    return sql + "\ngroup by id\n"


# DuckDB by default (a file in the project); `--target postgres` (or the default target of
# `generate(adapter="postgres")`) uses the PG* variables of libpq and SYNTHETIC_SCHEMA, so
# that several tests can share one server.
_PROFILES = """\
synthetic:
  target: duckdb
  outputs:
    duckdb:
      type: duckdb
      path: "{{ env_var('SYNTHETIC_DUCKDB_PATH', 'synthetic.duckdb') }}"
      threads: "{{ env_var('SYNTHETIC_THREADS', '4') | as_number }}"
    postgres:
      type: postgres
      host: "{{ env_var('PGHOST', 'localhost') }}"
      port: "{{ env_var('PGPORT', '5432') | as_number }}"
      user: "{{ env_var('PGUSER', 'postgres') }}"
      password: "{{ env_var('PGPASSWORD', '') }}"
      dbname: "{{ env_var('PGDATABASE', 'postgres') }}"
      schema: "{{ env_var('SYNTHETIC_SCHEMA', 'synthetic') }}"
      threads: "{{ env_var('SYNTHETIC_THREADS', '4') | as_number }}"
"""
_RAW_SCHEMA = "\"{{ env_var('SYNTHETIC_RAW_SCHEMA', 'raw') }}\""


def _load_macro(shape: Shape) -> str:
    def series(count: int) -> str:
        """`count` rows numbered from 0 in a column `n`, on either warehouse."""
        pg, duckdb = f"generate_series(0, {count - 1}) as g(n)", f"range({count}) as g(n)"
        return f"('{pg}' if target.type == 'postgres' else '{duckdb}')"

    return f"""{{% macro load_sources(source=none) %}}
  {{% set raw = env_var('SYNTHETIC_RAW_SCHEMA', 'raw') %}}
  {{% do run_query("create schema if not exists " ~ raw) %}}
  {{% for i in range({shape.sources}) %}}
    {{% set table = raw ~ ".src_" ~ i %}}
    {{% if source is none %}}
      {{% do run_query("drop table if exists " ~ table) %}}
      {{% do run_query("create table " ~ table ~ " as select n as id, n % 97 as value, "
         ~ "now()::timestamp as loaded_at from " ~ {series(shape.rows)}) %}}
    {{% elif source | int == i or source == 'all' %}}
      {{% do run_query("insert into " ~ table ~ " select {shape.rows} + n, 1, "
         ~ "now()::timestamp from " ~ {series(10)}) %}}
    {{% endif %}}
  {{% endfor %}}
{{% endmacro %}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--models", type=int, default=Shape.models)
    parser.add_argument("--sources", type=int, default=Shape.sources)
    parser.add_argument("--depth", type=int, default=Shape.depth)
    parser.add_argument("--fan-in", type=int, default=Shape.fan_in)
    parser.add_argument("--view-share", type=float, default=Shape.view_share)
    parser.add_argument("--test-share", type=float, default=Shape.test_share)
    parser.add_argument("--seed", type=int, default=Shape.seed)
    parser.add_argument("--adapter", choices=ADAPTERS, default="duckdb")
    args = parser.parse_args()
    shape = Shape(
        models=args.models,
        sources=args.sources,
        depth=args.depth,
        fan_in=args.fan_in,
        view_share=args.view_share,
        test_share=args.test_share,
        seed=args.seed,
    )
    print(generate(args.out, shape, adapter=args.adapter))


if __name__ == "__main__":
    main()
