"""How an orc process uses Python's garbage collector while dbt parses and builds in it.

dbt allocates tens of millions of objects in a run, most of them alive until its end (the
manifest, the compiled nodes, the results). Python's default thresholds collect the
youngest generation every 700 new objects and walk every live object every 100 of those
collections: at 300 models, 2.3-2.8 s of a 24-29 s first run (BENCHMARKS.md, "Python's
garbage collector"). Nothing here changes what is collected, only when."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# New objects between young collections (Python's default: 700); the older generations
# keep their default ratios, so a full collection comes every 100 young ones.
YOUNG_COLLECTION_EVERY = 10_000


def collect_less_often() -> None:
    """For the rest of this process: young collections every YOUNG_COLLECTION_EVERY new
    objects. Cyclic garbage waits a little longer: a first run at 300 models peaked at
    290 MB instead of 283 MB, an unchanged one at 141 MB either way."""
    youngest, middle, oldest = gc.get_threshold()
    gc.set_threshold(max(YOUNG_COLLECTION_EVERY, youngest), middle, oldest)


@contextmanager
def out_of_the_collectors_sight() -> Iterator[None]:
    """What exists before dbt's build (the parsed manifest above all) is left out of
    Python's garbage collection until the build is over. The build allocates enough for
    dozens of full collections, each of which walks every object alive: about a sixth of a
    plain build's time at 1,000 models (BENCHMARKS.md, "The first run at 1,000 models").
    Nothing is lost: those objects are collectable again afterwards."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
