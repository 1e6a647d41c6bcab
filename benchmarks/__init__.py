"""The performance suite: figures as ratios, measured side by side in one run.

Run ``python -m benchmarks`` (all) or ``python -m benchmarks.engine``. The machine is shared and
noisy: each figure is the median of interleaved repetitions, and only ratios measured in the same
run are compared.
"""
