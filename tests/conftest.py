"""Shared test fixtures: the built-in catalog and the independent plan check."""

from __future__ import annotations

import pytest

from recommender.catalog import Catalog
from recommender.plan import Plan, PlanGpu
from recommender.problem import Problem
from recommender.reading import load_catalog
from recommender.validate import validate_plan


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


def assert_valid(
    plan: Plan, problem: Problem, catalog: Catalog, current: list[PlanGpu] | None = None
) -> None:
    """Every plan a test makes goes through the independent validator (with the running fleet
    it was re-planned from, if any: then its transition and budgets are checked too)."""
    violations = validate_plan(plan, problem, catalog, current)
    assert violations == [], "\n".join(violations)
