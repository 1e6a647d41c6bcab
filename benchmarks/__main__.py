"""``python -m benchmarks``: every benchmark of the suite, one after the other."""

from benchmarks import engine

engine.main()
