"""The planning tests use the engine tests' real stores (``sql_url``: SQLite, PostgreSQL)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_NAME = "_journeys_engine_conftest"
_engine = sys.modules.get(_NAME)
if _engine is None:
    _spec = importlib.util.spec_from_file_location(
        _NAME, Path(__file__).parents[1] / "engine" / "conftest.py"
    )
    assert _spec is not None and _spec.loader is not None
    _engine = importlib.util.module_from_spec(_spec)
    sys.modules[_NAME] = _engine  # its dataclasses look their module up
    _spec.loader.exec_module(_engine)

sql_url = _engine.sql_url
