"""mig-parted configs: reading (plain and ConfigMap), schema errors, and check-config."""

from __future__ import annotations

from pathlib import Path

import pytest

from recommender.cluster.migparted import (
    check_config,
    nearest_placeable,
    read_mig_parted,
    read_mig_parted_file,
)
from recommender.errors import InputError
from recommender.reading import load_catalog

DATA = Path(__file__).parent / "data" / "cluster"
OPERATOR_DEFAULT = DATA / "gpu-operator-default-mig-parted-config.yaml"


def _error(call) -> str:
    with pytest.raises(InputError) as caught:
        call()
    return caught.value.report()


def test_operator_configmap_is_read_with_file_line_numbers() -> None:
    config = read_mig_parted_file(OPERATOR_DEFAULT)
    assert len(config.configs) == 17
    first = config.configs["all-disabled"][0]
    assert (first.devices, first.mig_enabled, first.line) == ("all", False, 11)
    balanced = config.configs["all-balanced"]
    assert balanced[2].device_filter == ("0x20B710DE",)
    assert balanced[0].mig_devices == {"1g.5gb": 2, "2g.10gb": 1, "3g.20gb": 1}


def test_check_config_on_a100_names_each_failure_with_an_alternative() -> None:
    catalog = load_catalog()
    result = check_config(
        read_mig_parted_file(OPERATOR_DEFAULT), "A100-40GB", catalog.model("A100-40GB")
    )
    assert result.exit_code == 1
    verdicts = {(c.entry.config, c.entry.index): c for c in result.checks}
    assert verdicts[("all-balanced", 0)].verdict == "placeable"
    assert verdicts[("all-balanced", 1)].verdict == "other GPU"
    too_many = verdicts[("all-1g.10gb", 0)]
    assert too_many.verdict == "not placeable"
    assert "7 x 1g.10gb, at most 4 per GPU" in too_many.reasons
    assert too_many.alternative == {"1g.10gb": 4}
    foreign = verdicts[("all-3g.40gb", 0)]
    assert foreign.reasons[0].startswith("profile 3g.40gb does not exist on A100-40GB")
    report = result.report()
    assert "gpu-operator-default-mig-parted-config.yaml:41: all-1g.10gb[0]: NOT placeable" in report


def test_check_one_config_exit_zero() -> None:
    catalog = load_catalog()
    config = read_mig_parted_file(OPERATOR_DEFAULT)
    result = check_config(config, "A100-40GB", catalog.model("A100-40GB"), "all-balanced")
    assert result.exit_code == 0
    with pytest.raises(InputError, match="no config named 'nope'"):
        check_config(config, "A100-40GB", catalog.model("A100-40GB"), "nope")


def test_every_broken_rule_is_named() -> None:
    text = (
        "version: v1\nmig-configs:\n  odd:\n    - devices: [0]\n      mig-enabled: true\n"
        '      mig-devices: {"4g.20gb": 1, "2g.10gb": 2, "1g.5gb": 1}\n'
    )
    catalog = load_catalog()
    model = catalog.model("A100-40GB")
    (check,) = check_config(read_mig_parted(text.encode(), "odd.yaml"), "A100-40GB", model).checks
    assert check.verdict == "not placeable"
    assert check.reasons == (
        "they need 9 memory-slice units, the GPU has 8",
        "they need 9 compute slices, the GPU has 7",
    )
    assert check.alternative == {"4g.20gb": 1, "2g.10gb": 1, "1g.5gb": 1}


def test_nearest_placeable_shrinks_before_dropping() -> None:
    model = load_catalog().model("A100-40GB")
    assert nearest_placeable(model, ["7g.40gb", "1g.5gb"]) == {"7g.40gb": 1}
    assert nearest_placeable(model, ["3g.20gb", "3g.20gb", "1g.5gb"]) == {"3g.20gb": 2}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty"),
        ("version: v2\nmig-configs: {a: [{devices: all, mig-enabled: false}]}\n", "x.yaml:1"),
        ("version: v1\n", "`mig-configs` must map"),
        (
            "version: v1\nmig-configs:\n  a:\n    - devices: 0\n      mig-enabled: true\n",
            "x.yaml:4",
        ),
        (
            "version: v1\nmig-configs:\n  a:\n    - devices: all\n      mig-enabled: yes please\n",
            "must be true or false",
        ),
        (
            "version: v1\nmig-configs:\n  a:\n    - devices: all\n      mig-enabled: true\n"
            '      mig-devices: {"1g.5gb": -1}\n',
            "count -1 is not an integer >= 0",
        ),
        ("version: v1\nmig-configs: [\n", "not valid YAML"),
        ("kind: ConfigMap\ndata: {other: x}\n", "ConfigMap has no data.config.yaml"),
    ],
)
def test_hostile_configs(text: str, expected: str) -> None:
    assert expected in _error(lambda: read_mig_parted(text.encode(), "x.yaml"))


def test_binary_and_truncated_config() -> None:
    assert "binary" in _error(lambda: read_mig_parted(b"\x00\x00", "x.yaml"))
    cut = OPERATOR_DEFAULT.read_text()[:300]
    message = _error(lambda: read_mig_parted(cut.encode(), "cut.yaml"))
    assert message.startswith("cut.yaml")
