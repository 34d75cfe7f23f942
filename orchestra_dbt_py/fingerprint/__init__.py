"""Definition fingerprints: one sha256 per node over everything that can change its output.

A node may be reused only if its definition is unchanged since its last build
(docs/design.md, "When a node may be reused", rule 3). The fingerprint computed here is that
definition. It is built from a freshly parsed manifest (no warehouse connection,
`compiled_code` still empty) and covers:

- the node's code: SQL normalized by `normalize_sql` (comments and whitespace do not count,
  string literals and Jinja do), Python models as written, seeds by the bytes of their file;
- its config from wherever it was set (`node.config`, minus the scheduling and cloning
  policies: `freshness`, and `lag_tolerance`, `require_fresh_data_from`, `pre_clone` under
  `state`), its descriptions when `persist_docs` writes them, its columns when a contract is
  enforced;
- the adapter type;
- for data tests, the test's name, namespace, arguments, the column it is attached to, and
  the relation it stores failures in;
- every macro it can call, transitively, package macros included: parse-time dependencies,
  the materialization, incremental and snapshot strategy macros, every known macro name that
  appears in its Jinja, and every `*__name` implementation of an `adapter.dispatch('name')`;
- the effective value of every var and a digest of every env var it or its macros read;
- the relations and loading configuration of its sources (not their freshness settings),
  the full fingerprint of ephemeral parents (their SQL is inlined), and which other parents
  it has.

Not covered: the relation a model, seed or snapshot builds into, nor those of its model,
seed and snapshot parents. So the same code in two targets (`prod`, `dev`) has the same
fingerprint and a record of one target can vouch for the definition in another. A node
that moves is still rebuilt: reuse also asks that the record be for the node's relation
(docs/design.md, rule 1), a relation set in config (`alias`, `schema`, `database`) is
config, and a parent that moves is rebuilt, which is new data for its children. What the
node's code reads of the target (`target.name`, `target.schema`, ...) is covered, as the
digest of each attribute read, and so is a source whose location follows the target.

Anything that cannot be read precisely is over-approximated: a `var(...)` call with a
non-literal name brings in every effective var, an `env_var(...)` call with a non-literal name
brings in every env var dbt recorded during parse plus every `DBT_*` variable, an
`adapter.dispatch(...)` with a non-literal name brings in every dispatched implementation.
A false change costs a rebuild; a missed change would serve stale data.

Env var values are never stored: only a sha256 of each enters the (hashed) payload.

Modules: `sql` (the lexer behind `normalize_sql`), `references` (what code reads), `canonical`
(canonical JSON and digests), `variables` (effective vars, project settings), `macros` (macro
index and closures), `definitions` (the fingerprinter), `parts` (the named parts of a
definition, which explain a changed fingerprint), `unit_tests` (unit test fingerprints).
"""

from orchestra_dbt_py.fingerprint.definitions import (
    DEFAULT_RESOURCE_TYPES,
    FINGERPRINT_VERSION,
    Definitions,
    fingerprint_definitions,
)
from orchestra_dbt_py.fingerprint.sql import normalize_sql
from orchestra_dbt_py.fingerprint.unit_tests import unit_test_fingerprint, unit_test_parts
from orchestra_dbt_py.fingerprint.variables import project_settings, vars_provider

__all__ = [
    "DEFAULT_RESOURCE_TYPES",
    "FINGERPRINT_VERSION",
    "Definitions",
    "fingerprint_definitions",
    "normalize_sql",
    "project_settings",
    "unit_test_fingerprint",
    "unit_test_parts",
    "vars_provider",
]
