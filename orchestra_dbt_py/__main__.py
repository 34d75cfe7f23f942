import sys

from orchestra_dbt_py.cli import main

sys.exit(main())
