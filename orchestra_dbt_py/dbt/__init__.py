"""The dbt edge: everything that talks to dbt-core.

* `command` -- a dbt command line, read as dbt reads it; plain pass-through runs;
* `session` -- one parsed project: invoking dbt in-process (parse, ls, build with callbacks);
* `hooks` -- the project's on-run-start/on-run-end hooks and a reused node's own hooks,
  run with dbt's code;
* `graph` -- the manifest translated into the core's plain nodes, with their fingerprints;
* `queries` -- questions to the warehouse through the adapter (source freshness, data
  versions, existing relations, the package's state-table and hook macros);
* `package` -- the dbt package's macros, shipped with orc, lent to a project without it.

Nothing here imports a state backend; nothing here writes a file of the user's project.
"""
