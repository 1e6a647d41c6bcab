"""``python -m benchmarks``: the whole suite, one table (``--help`` for its options)."""

from benchmarks import suite

suite.main()
