"""journeys: declarative journeys and sagas in YAML, run by one durable engine.

The public face of the package; everything else is internal::

    import journeys

    definition = journeys.load_definition("definitions/data_ingest_pipeline.yaml")
    for milestone in definition.milestones:
        print(milestone.id, milestone.action, milestone.retry.delays())
"""

from journeys.definitions.loader import load_definition, load_policy_file
from journeys.definitions.model import Definition, Estimate, Milestone, Retry
from journeys.errors import DefinitionError, JourneyError, Problem

__version__ = "0.1.0"

__all__ = [
    "Definition",
    "DefinitionError",
    "Estimate",
    "JourneyError",
    "Milestone",
    "Problem",
    "Retry",
    "__version__",
    "load_definition",
    "load_policy_file",
]
