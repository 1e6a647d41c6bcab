"""Shared test settings.

Hypothesis runs a modest number of examples by default (the ``ci`` profile); for a longer fuzzing
session run ``HYPOTHESIS_PROFILE=fuzz pytest tests/definitions/test_fuzz.py`` (and the other
``test_*fuzz.py``), or atheris: README.md, "Fuzzing".
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "fuzz", max_examples=20_000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
