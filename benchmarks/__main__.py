"""``python -m benchmarks``: the suite's figures, one benchmark after the other.

``python -m benchmarks.replay`` (a 1,000,000-entry log, about a minute to fill) runs apart.
"""

from benchmarks import durability, engine, plan, policy, workers

engine.main()
print()
durability.main()
print()
policy.main()
print()
plan.main()
print()
workers.main()
