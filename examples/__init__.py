"""Runnable handlers for the bundled journeys in ``definitions/``, with real effects on files.

``--handlers examples`` (a dotted name: the repository root must be importable, as it is under
``python -m journeys``) or ``--handlers examples/__init__.py`` (a path: works from anywhere)
registers every handler below; ``--handlers examples/data_ingest.py`` registers one journey's.
Every effect is a file in the data folder, ``./journeys-data`` or ``$JOURNEYS_DATA_DIR``, and
every compensation really undoes its milestone. The input ``fail_at`` (a milestone id) makes that
milestone fail on purpose, so a saga compensates what came before and the folder returns to its
earlier state::

    journeys run definitions/data_ingest_pipeline.yaml \\
        --handlers examples/__init__.py -i file_name=sample.csv \\
        -i file_path=examples/data/sample.csv -i dataset=sales -i fail_at=embed

=================================  ==================================
module                             journey
=================================  ==================================
``data_ingest``                    ``data_ingest_pipeline``
``data_mapping``                   ``data_mapping``
``workflow_generation``            ``operations_workflow_generation``
``coexistence_analysis``           ``operations_coexistence_analysis``
``sop_creation``                   ``interactive_sop_creation``
``pillar_summaries``               ``pillar_summaries_compilation``
``roadmap``                        ``roadmap_generation``
``poc_proposal``                   ``poc_proposal_generation``
``mvp_session``                    ``mvp_session``
``order_fulfillment``              ``order_fulfillment``
=================================  ==================================

Sample inputs are in ``examples/data/``.
"""

__all__ = [
    "coexistence_analysis",
    "data_ingest",
    "data_mapping",
    "mvp_session",
    "order_fulfillment",
    "pillar_summaries",
    "poc_proposal",
    "roadmap",
    "sop_creation",
    "workflow_generation",
]

try:
    from . import (
        coexistence_analysis,
        data_ingest,
        data_mapping,
        mvp_session,
        order_fulfillment,
        pillar_summaries,
        poc_proposal,
        roadmap,
        sop_creation,
        workflow_generation,
    )
except ImportError:  # loaded by path (--handlers examples/__init__.py): load each module by path
    import importlib.util
    import sys
    from pathlib import Path

    for _name in __all__:
        _spec = importlib.util.spec_from_file_location(
            f"journeys_examples_{_name}", Path(__file__).with_name(f"{_name}.py")
        )
        assert _spec is not None and _spec.loader is not None
        _module = importlib.util.module_from_spec(_spec)
        sys.modules[_spec.name] = _module
        _spec.loader.exec_module(_module)
        globals()[_name] = _module
