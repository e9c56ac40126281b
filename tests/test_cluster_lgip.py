"""Catalog entries from `nvidia-smi mig -lgip/-lgipp` captures reproduce the built-in ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recommender.catalog import Catalog
from recommender.cluster.lgip import gib_to_mib, import_model, parse_lgip, parse_lgipp
from recommender.errors import InputError
from recommender.reading import load_catalog

DATA = Path(__file__).parent / "data" / "cluster"
COMPARED = ("id", "compute_slices", "memory_slices", "span", "starts", "max_count", "memory_mib")


def _same_as_builtin(key: str, lgip: str, lgipp: str) -> list[str]:
    imported = import_model(DATA / lgip, DATA / lgipp, key)
    builtin = load_catalog().model(key)
    for profile in imported.model.profiles:
        expected = builtin.profile(profile.name)
        for field in COMPARED:
            assert getattr(profile, field) == getattr(expected, field), (profile.name, field)
        assert profile.attributes == expected.attributes
    assert imported.model.placement_units == builtin.placement_units
    assert imported.model.compute_slices == builtin.compute_slices
    assert imported.model.memory_gb == builtin.memory_gb
    return [p.name for p in imported.model.profiles]


def test_h100_capture_reproduces_the_builtin_entry() -> None:
    names = _same_as_builtin("H100-80GB", "h100-80gb-lgip.txt", "h100-80gb-lgipp.txt")
    assert sorted(names) == sorted(load_catalog().model("H100-80GB").profile_by_name)


def test_a100_capture_reproduces_every_profile_its_driver_offers() -> None:
    # Driver 460 lists no 1g.5gb+me (R470+) and no 1g.10gb (R525+); the guide's -lgipp does.
    names = _same_as_builtin("A100-40GB", "a100-40gb-lgip.txt", "a100-40gb-lgipp.txt")
    assert sorted(names) == ["1g.5gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"]
    imported = import_model(DATA / "a100-40gb-lgip.txt", DATA / "a100-40gb-lgipp.txt", "X")
    assert any("[15, 20] left out" in note for note in imported.notes)


def test_imported_entry_is_a_catalog_the_loader_accepts(tmp_path: Path) -> None:
    imported = import_model(DATA / "h100-80gb-lgip.txt", DATA / "h100-80gb-lgipp.txt", "H100-new")
    path = tmp_path / "catalog.json"
    path.write_text(imported.catalog_json(), encoding="utf-8")
    catalog = load_catalog(path)
    assert isinstance(catalog, Catalog)
    assert catalog.model("H100-new").profile("1g.10gb+me").has_me
    assert json.loads(imported.catalog_json())["schema_version"] == 1


def test_single_row_layout_and_rtx_axis() -> None:
    lgip = (
        "| GPU instance profiles:                                   |\n"
        "| GPU   Name          ID    Instances   Memory     P2P    SM    DEC   ENC  |\n"
        "|   0  MIG 1g.24gb     14     4/4        23.62      No     46     1     1   |\n"
        "|   0  MIG 2g.48gb      5     2/2        47.38      No     94     2     2   |\n"
        "|   0  MIG 4g.96gb      0     1/1        95.12      No     188    4     4   |\n"
    )
    lgipp = (
        "GPU  0 Profile ID 14 Placements: {0,3,6,9}:3\n"
        "GPU  0 Profile ID  5 Placements: {0,6}:6\n"
        "GPU  0 Profile ID  0 Placement : {0}:12\n"
    )
    model = import_model(lgip.encode(), lgipp.encode(), "RTX").model
    builtin = load_catalog().model("RTX-PRO-6000-96GB")
    assert model.placement_units == 12
    for profile in model.profiles:
        expected = builtin.profile(profile.name)
        assert (profile.span, profile.starts, profile.memory_mib, profile.memory_slices) == (
            expected.span,
            expected.starts,
            expected.memory_mib,
            expected.memory_slices,
        )


@pytest.mark.parametrize(
    ("printed", "mib"), [("4.75", 4864), ("19.62", 20096), ("39.38", 40320), ("93.12", 95360)]
)
def test_gib_to_mib(printed: str, mib: int) -> None:
    assert gib_to_mib(printed) == mib


def _error(call) -> str:
    with pytest.raises(InputError) as caught:
        call()
    return caught.value.report()


def test_hostile_lgip_inputs() -> None:
    good = (DATA / "h100-80gb-lgip.txt").read_text()
    assert "empty" in _error(lambda: parse_lgip(b"", "x.txt"))
    assert "binary" in _error(lambda: parse_lgip(b"\x00\x01GPU", "x.txt"))
    assert "not valid UTF-8" in _error(lambda: parse_lgip(b"\xff\xfe\xfa", "x.txt"))
    lgi = (DATA / "h100-80gb-lgi.txt").read_text()
    assert "nvidia-smi mig -lgi` output" in _error(lambda: parse_lgip(lgi.encode(), "x.txt"))
    lgipp = (DATA / "h100-80gb-lgipp.txt").read_text()
    assert "-lgipp` output" in _error(lambda: parse_lgip(lgipp.encode(), "x.txt"))
    truncated = "\n".join(good.splitlines()[:-2])
    message = _error(lambda: parse_lgip(truncated.encode(), "cut.txt"))
    assert message.startswith("cut.txt:24: profile 7g.80gb has no second row")
    unknown = good.replace("MIG 2g.20gb ", "MIG 2x.20gb ")
    assert "cut.txt:15: unknown profile name '2x.20gb'" in _error(
        lambda: parse_lgip(unknown.encode(), "cut.txt")
    )


def test_hostile_lgipp_inputs() -> None:
    assert "x.txt:2: not a placement line" in _error(
        lambda: parse_lgipp(
            b"GPU  0 Profile ID 19 Placements: {0,1}:1\nGPU 0 Profile garbage\n", "x.txt"
        )
    )
    lgip = (DATA / "h100-80gb-lgip.txt").read_text()
    assert "this is `nvidia-smi mig -lgip` output" in _error(
        lambda: parse_lgipp(lgip.encode(), "x.txt")
    )
    assert "distinct start slots" in _error(
        lambda: parse_lgipp(b"GPU  0 Profile ID 19 Placements: {0,0}:1\n", "x.txt")
    )


def test_profile_without_placements_is_an_error() -> None:
    lgipp = "GPU  0 Profile ID 19 Placements: {0,1,2,3,4,5,6}:1\n"
    message = _error(
        lambda: import_model(DATA / "h100-80gb-lgip.txt", lgipp.encode(), "H", lgipp_label="p")
    )
    assert "h100-80gb-lgip.txt:9: profile 1g.10gb+me (ID 20) has no placements in p" in message
