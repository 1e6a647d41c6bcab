"""YAML text -> a validated, typed :class:`~journeys.definitions.model.Definition`.

The pipeline, one module a step: :mod:`source` (safe, line-aware YAML), :mod:`validation` (the JSON
Schema, errors placed at their lines), :mod:`checks` (what a schema cannot check), :mod:`model`
(the frozen result); :mod:`loader` runs it. :mod:`durations` and :mod:`expressions` are the
small languages inside a definition.
"""
