"""Runnable handlers for the bundled journeys in ``definitions/``, with real effects on files.

``--handlers examples`` (or ``--handlers examples/__init__.py``; from any working directory with
a path such as ``--handlers /repo/examples``) registers every handler below, and
``--handlers examples/data_ingest.py`` registers one journey's: a file or folder inside this
package is imported as ``examples.<module>``, with the repository root put on the import path.
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
