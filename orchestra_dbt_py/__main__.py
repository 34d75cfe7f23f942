"""`python -m orchestra_dbt_py`: the `orc` command."""

import sys

from orchestra_dbt_py.cli import main

if __name__ == "__main__":
    sys.exit(main())
