"""The one reading layer: every input (CSV, catalog JSON/YAML, plan JSON, current state), from
bytes or a path, decoded, parsed and checked the same way, problems reported as
`file:line: column: message`."""

from recommender.reading.catalog import load_catalog
from recommender.reading.current import load_current
from recommender.reading.performance import PERFORMANCE_COLUMNS, read_performance
from recommender.reading.plan import read_plan_json
from recommender.reading.problem import (
    FLEET_COLUMNS,
    WORKLOAD_COLUMNS,
    load_problem,
    read_fleet,
    read_workloads,
)
from recommender.reading.source import Source, parse_json, parse_yaml, read_text

__all__ = [
    "FLEET_COLUMNS",
    "PERFORMANCE_COLUMNS",
    "WORKLOAD_COLUMNS",
    "Source",
    "load_catalog",
    "load_current",
    "load_problem",
    "parse_json",
    "parse_yaml",
    "read_fleet",
    "read_performance",
    "read_plan_json",
    "read_text",
    "read_workloads",
]
