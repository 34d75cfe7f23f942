"""The decision core: plain data and pure functions, no dbt, no backend, no I/O.

* `graph` -- the nodes the decision sees, their kinds and the walks over them;
* `records` -- what the state knows about a node's last build, and the merge rule;
* `document` -- the state document's JSON format (parsing, writing, journals);
* `keys` -- the state key rule and the account scope;
* `planner` -- the decision itself: build or reuse, and why;
* `definitions` -- what changed in a definition, named for a reason;
* `recording` -- the record a finished node leaves.

tests/unit/test_architecture.py fails when a module here imports anything outside the
standard library, `orchestra_dbt_py.core` and `orchestra_dbt_py.errors`.
"""
