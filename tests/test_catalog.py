"""The MIG catalog as data: built-in content, user overrides and refusal of bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recommender.catalog import BUILTIN_CATALOG_PATH, Catalog
from recommender.errors import InputError
from recommender.reading import load_catalog

REFERENCE_KEYS = {
    "A30-24GB", "A100-40GB", "A100-80GB", "H100-80GB", "H100-94GB", "H100-96GB",
    "H200-141GB", "GH200-144GB", "B200-180GB", "GB200-186GB", "RTX-PRO-6000-96GB",
}  # fmt: skip


def test_builtin_catalog_has_every_model_with_sources(catalog: Catalog) -> None:
    assert set(catalog.models) == REFERENCE_KEYS
    for key, model in catalog.models.items():
        assert model.sources, key
        assert all(p.memory_source for p in model.profiles), key
        full = [p for p in model.profiles if model.is_full_gpu(p) and not p.gfx]
        assert len(full) == 1, key


@pytest.mark.parametrize(
    ("model", "profile", "profile_id", "starts", "span", "gib"),
    [
        ("A100-40GB", "3g.20gb", 9, [0, 4], 4, 19.625),
        ("A100-40GB", "1g.10gb", 15, [0, 2, 4, 6], 2, 9.75),
        ("H100-80GB", "7g.80gb", 0, [0], 8, 79.25),
        ("A30-24GB", "2g.12gb+me", 6, [0, 2], 2, 11.6875),
        ("RTX-PRO-6000-96GB", "1g.24gb-me", 67, [0, 3, 6, 9], 3, 23.625),
        ("B200-180GB", "1g.23gb", 19, [0, 1, 2, 3, 4, 5, 6], 1, 20.5),
    ],
)
def test_catalog_matches_reference_facts(
    catalog: Catalog,
    model: str,
    profile: str,
    profile_id: int,
    starts: list[int],
    span: int,
    gib: float,
) -> None:
    p = catalog.model(model).profile(profile)
    assert (p.id, p.starts, p.span) == (profile_id, starts, span)
    assert p.memory_gib == pytest.approx(gib, abs=0.01)


def test_nvidia_smi_names_resolve(catalog: Catalog) -> None:
    assert catalog.resolve("NVIDIA A100-SXM4-40GB") == "A100-40GB"
    assert catalog.resolve("nvidia h100 80gb hbm3") == "H100-80GB"
    assert catalog.resolve("NVIDIA RTX PRO 6000 Blackwell Server Edition") == "RTX-PRO-6000-96GB"
    assert catalog.resolve("A100") is None
    assert catalog.suggest("A100-40G") == "A100-40GB"


def test_media_capability(catalog: Catalog) -> None:
    a100 = catalog.model("A100-40GB")
    rtx = catalog.model("RTX-PRO-6000-96GB")
    assert a100.media_capable(a100.profile("1g.5gb+me"))
    assert a100.media_capable(a100.profile("7g.40gb"))
    assert not a100.media_capable(a100.profile("3g.20gb"))
    assert rtx.media_capable(rtx.profile("2g.48gb+me.all"))
    assert not rtx.media_capable(rtx.profile("1g.24gb-me"))


def builtin_model(key: str) -> dict:
    return json.loads(BUILTIN_CATALOG_PATH.read_text())["models"][key]


def write(tmp_path: Path, data: object, name: str = "mine.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_user_catalog_adds_and_overrides_models(tmp_path: Path) -> None:
    variant = builtin_model("A100-40GB")
    variant["aliases"] = ["NVIDIA A800-SXM4-40GB"]
    tuned = builtin_model("H100-80GB")
    tuned["profiles"][0]["memory_mib"] = 9900  # a driver that reports less
    path = write(tmp_path, {"models": {"A800-40GB": variant, "H100-80GB": tuned}})
    merged = load_catalog(path)
    assert merged.resolve("NVIDIA A800-SXM4-40GB") == "A800-40GB"
    assert merged.model("H100-80GB").profile("1g.10gb").memory_mib == 9900
    assert "B200-180GB" in merged.models
    assert load_catalog().model("H100-80GB").profile("1g.10gb").memory_mib == 9984


def test_user_catalog_in_yaml(tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"models": {"A800-40GB": builtin_model("A100-40GB")}}))
    assert "A800-40GB" in load_catalog(path).models


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda m: m["profiles"][0].update(starts=[0, 8]), "leave the 8-unit axis"),
        (lambda m: m["profiles"][0].update(memory_mib=0), "greater than 0"),
        (
            lambda m: m["profiles"][1].update(name=m["profiles"][0]["name"]),
            "duplicate profile names",
        ),
        (lambda m: m.update(all_balanced={"9g.1gb": 1}), "unknown profiles"),
        (lambda m: m["profiles"][0].update(attributes=["turbo"]), "profiles.0.attributes.0"),
        (lambda m: m.update(colour="green"), "Extra inputs are not permitted"),
    ],
)
def test_malformed_user_catalog_is_refused_with_a_clear_message(
    tmp_path: Path, mutate, fragment: str
) -> None:
    model = builtin_model("A100-40GB")
    mutate(model)
    path = write(tmp_path, {"models": {"A100-40GB": model}})
    with pytest.raises(InputError) as caught:
        load_catalog(path)
    report = caught.value.report()
    assert report.startswith("mine.json")
    assert fragment in report


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{not json", "mine.json:1: not valid JSON"),
        ("[1, 2]", "expected an object"),
        ("", "not valid JSON"),
    ],
)
def test_unreadable_user_catalog(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(InputError) as caught:
        load_catalog(write(tmp_path, text))
    assert fragment in caught.value.report()


def test_missing_user_catalog(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load_catalog(tmp_path / "nope.json")
