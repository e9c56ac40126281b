"""The rule engine: enumeration of valid layouts and the placement rules (docs/design.md)."""

from __future__ import annotations

import pytest

from recommender import rules
from recommender.catalog import Catalog
from recommender.layouts import (
    Layout,
    Placement,
    capability,
    enumerate_layouts,
    find_layout,
    layout_violations,
    maximal_layouts,
    solver_layouts,
)
from recommender.reading import load_catalog

MODEL_KEYS = sorted(load_catalog().models)


def base_profiles(catalog: Catalog, key: str) -> list[str]:
    return [p.name for p in catalog.model(key).profiles if not p.attributes]


def test_a100_40gb_has_28_maximal_layouts_with_1g10gb_and_12_without(catalog: Catalog) -> None:
    model = catalog.model("A100-40GB")
    base = base_profiles(catalog, "A100-40GB")
    assert "1g.10gb" in base
    assert len(maximal_layouts(model, base)) == 28
    without = [name for name in base if name != "1g.10gb"]
    assert len(maximal_layouts(model, without)) == 12


def test_a100_40gb_feasible_base_multisets_match_reference_count(catalog: Catalog) -> None:
    # 77 feasible multisets of base profiles, 28 of them maximal: an enumeration by hand of the
    # legal starts in NVIDIA's MIG user guide (docs/design.md, "Placement rules").
    base = base_profiles(catalog, "A100-40GB")
    assert len(enumerate_layouts(catalog.model("A100-40GB"), base)) == 77


@pytest.mark.parametrize(
    ("profiles", "valid"),
    [
        (["4g.20gb", "3g.20gb"], True),
        (["3g.20gb", "2g.10gb", "1g.5gb", "1g.5gb"], True),
        (["1g.5gb"] * 7, True),
        (["3g.20gb", "3g.20gb", "1g.5gb"], False),
        (["1g.5gb"] * 8, False),
        (["4g.20gb", "4g.20gb"], False),
        (["2g.10gb"] * 4, False),
        (["7g.40gb", "1g.5gb"], False),
        (["1g.5gb+me", "1g.5gb+me"], False),
    ],
)
def test_a100_40gb_combinations(catalog: Catalog, profiles: list[str], valid: bool) -> None:
    layout = find_layout(catalog.model("A100-40GB"), profiles)
    assert (layout is not None) is valid
    if layout is not None:
        assert sorted(p.profile for p in layout.placements) == sorted(profiles)
        assert (
            layout_violations(
                catalog.model("A100-40GB"), [(p.profile, p.start) for p in layout.placements]
            )
            == []
        )


def test_guide_example_3_2_1_1_placement_is_valid(catalog: Catalog) -> None:
    model = catalog.model("A100-40GB")
    assert (
        layout_violations(model, [("3g.20gb", 4), ("2g.10gb", 2), ("1g.5gb", 0), ("1g.5gb", 1)])
        == []
    )


def test_layout_label_is_largest_first_by_span_then_compute(catalog: Catalog) -> None:
    """`rules.layout_label`, the order the CLI and the exports print: 4g.20gb and 3g.20gb both
    span 4 units, so the one with more compute comes first, whatever the starts."""
    model = catalog.model("A100-40GB")
    layout = Layout((Placement(0, "1g.5gb"), Placement(4, "3g.20gb"), Placement(2, "2g.10gb")))
    assert layout.label(model) == "3g.20gb | 2g.10gb | 1g.5gb"
    same_span = Layout((Placement(4, "3g.20gb"), Placement(0, "4g.20gb")))
    assert same_span.label(model) == "4g.20gb | 3g.20gb"
    assert same_span.label(model) == rules.layout_label(model, ["3g.20gb", "4g.20gb"])


@pytest.mark.parametrize(
    ("placements", "fragment"),
    [
        ([("3g.20gb", 2)], "cannot start at 2"),
        ([("3g.20gb", 0), ("2g.10gb", 2)], "overlaps"),
        ([("4g.20gb", 0), ("4g.20gb", 0)], "overlaps"),
        ([("1g.5gb+me", 0), ("1g.5gb+me", 1)], "more than one +me"),
        ([("9g.99gb", 0)], "unknown profile"),
    ],
)
def test_layout_violations_explain_the_rule(
    catalog: Catalog, placements: list[tuple[str, int]], fragment: str
) -> None:
    problems = layout_violations(catalog.model("A100-40GB"), placements)
    assert any(fragment in p for p in problems), problems


@pytest.mark.parametrize("key", MODEL_KEYS)
def test_mig_parted_all_balanced_is_valid_on_every_model(catalog: Catalog, key: str) -> None:
    model = catalog.model(key)
    assert model.all_balanced, f"{key} has no all-balanced layout"
    layout = find_layout(model, rules.expand_multiset(model.all_balanced))
    assert layout is not None
    assert layout_violations(model, [(p.profile, p.start) for p in layout.placements]) == []


def test_rtx_pro_6000_uses_a_12_unit_axis(catalog: Catalog) -> None:
    model = catalog.model("RTX-PRO-6000-96GB")
    assert model.placement_units == 12
    # The transcript shows `-cgi 2g.48gb,1g.24gb,1g.24gb` landing at 0:6, 6:3 and 9:3.
    assert layout_violations(model, [("2g.48gb", 0), ("1g.24gb", 6), ("1g.24gb", 9)]) == []
    assert layout_violations(model, [("4g.96gb", 0)]) == []
    assert find_layout(model, ["1g.24gb"] * 4) is not None
    assert find_layout(model, ["1g.24gb"] * 5) is None
    assert any("cannot start at 1" in p for p in layout_violations(model, [("1g.24gb", 1)]))
    assert len(maximal_layouts(model, base_profiles(catalog, "RTX-PRO-6000-96GB"))) == 4


def test_rtx_pro_media_rules(catalog: Catalog) -> None:
    model = catalog.model("RTX-PRO-6000-96GB")
    assert find_layout(model, ["1g.24gb+me", "1g.24gb+me"]) is None
    assert find_layout(model, ["2g.48gb+me.all", "2g.48gb"]) is None
    assert find_layout(model, ["2g.48gb+me.all", "1g.24gb+me"]) is None
    assert find_layout(model, ["2g.48gb+me.all", "2g.48gb-me"]) is not None
    assert find_layout(model, ["1g.24gb+me.all", "1g.24gb-me", "2g.48gb-me"]) is not None


def test_a30_allows_one_me_instance_in_total(catalog: Catalog) -> None:
    model = catalog.model("A30-24GB")
    assert find_layout(model, ["1g.6gb+me", "2g.12gb+me"]) is None
    assert find_layout(model, ["1g.6gb+me", "1g.6gb", "2g.12gb"]) is not None
    expected = {("1g.6gb",) * 4, ("1g.6gb", "1g.6gb", "2g.12gb"), ("2g.12gb",) * 2, ("4g.24gb",)}
    assert {
        lay.key for lay in maximal_layouts(model, base_profiles(catalog, "A30-24GB"))
    } == expected


@pytest.mark.parametrize("key", ["A100-40GB", "A30-24GB", "RTX-PRO-6000-96GB", "B200-180GB"])
def test_solver_layouts_cover_every_valid_layout(catalog: Catalog, key: str) -> None:
    """Pruning is safe: every valid layout maps instance by instance into a solver layout."""
    model = catalog.model(key)
    chosen = solver_layouts(model)
    assert chosen
    for lay in chosen:
        assert layout_violations(model, [(p.profile, p.start) for p in lay.placements]) == []
        assert not any(model.profile(p.profile).gfx for p in lay.placements)

    def covered(small, big) -> bool:
        # brute force over assignments (layouts have at most 7 instances)
        caps_big = [capability(model, model.profile(n)) for n in big.key]
        caps_small = [capability(model, model.profile(n)) for n in small.key]

        def place(i: int, used: set[int]) -> bool:
            if i == len(caps_small):
                return True
            need = caps_small[i]
            for j, have in enumerate(caps_big):
                fits = have[0] >= need[0] and have[1] >= need[1] and (have[2] or not need[2])
                if j not in used and fits and place(i + 1, used | {j}):
                    return True
            return False

        return place(0, set())

    for lay in enumerate_layouts(model, [p.name for p in model.profiles if not p.gfx]):
        assert any(covered(lay, big) for big in chosen), lay.key
