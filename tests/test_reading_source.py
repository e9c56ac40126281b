"""One contract for every input: bytes or a path, UTF-8, JSON/YAML syntax and duplicated keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recommender.catalog import BUILTIN_CATALOG_PATH
from recommender.errors import InputError
from recommender.reading import load_catalog, parse_json, parse_yaml, read_plan_json, read_text


def issues_of(call, *args, **kwargs) -> list[str]:
    with pytest.raises(InputError) as caught:
        call(*args, **kwargs)
    return [str(issue) for issue in caught.value.issues]


def test_a_path_that_cannot_be_read(tmp_path: Path) -> None:
    assert issues_of(read_text, tmp_path / "nope.csv", "nope.csv") == ["nope.csv: file not found"]
    assert issues_of(read_text, tmp_path, "dir") == ["dir: is a directory, not a file"]


def test_utf8_with_or_without_a_byte_order_mark() -> None:
    assert read_text("é\n".encode(), "x") == read_text(b"\xef\xbb\xbf" + "é\n".encode(), "x")
    assert issues_of(read_text, b"ok\nok\nbad \xff\n", "x.csv") == [
        "x.csv:3: byte 0xff is not valid UTF-8 (save the file as UTF-8)"
    ]


def test_json_syntax_errors_name_line_and_column() -> None:
    assert issues_of(parse_json, b'{"a": 1,\n  oops}', "f.json") == [
        "f.json:2: not valid JSON: Expecting property name enclosed in double quotes (column 3)"
    ]
    assert issues_of(parse_json, b"", "f.json") == [
        "f.json:1: not valid JSON: Expecting value (column 1)"
    ]


def test_json_duplicate_keys_are_refused_on_their_line() -> None:
    text = b'{"a": 1,\n "b": {"c": 1, "x": [{"c": 2}], "c": 2},\n "a": 3}'
    assert issues_of(parse_json, text, "f.json") == [
        'f.json:2: duplicate key "c" (each key once per object)',
        'f.json:3: duplicate key "a" (each key once per object)',
    ]


def test_equal_keys_in_different_objects_are_fine() -> None:
    text = b'[{"k": 1}, {"k": 2, "n": {"k": 3}}, "k", {"\\"k": 4, "k": 5}]'
    assert parse_json(text, "f.json") == json.loads(text)


def test_yaml_duplicate_keys_and_syntax_errors() -> None:
    text = b"a: 1\nb:\n  c: 1\n  c: 2\na: 3\n"
    assert issues_of(parse_yaml, text, "f.yaml") == [
        "f.yaml:4: duplicate key c (each key once per mapping)",
        "f.yaml:5: duplicate key a (each key once per mapping)",
    ]
    found = issues_of(parse_yaml, b"models: [unclosed", "f.yaml")
    assert found[0].startswith("f.yaml:1: not valid YAML: expected ',' or ']'")


def test_yaml_is_loaded_safely() -> None:
    found = issues_of(parse_yaml, b"x: !!python/object/apply:os.system ['true']\n", "f.yaml")
    assert found[0].startswith("f.yaml:1: not valid YAML")


def test_yaml_merge_keys_may_repeat_a_key() -> None:
    text = b"base: &b {x: 1, y: 2}\nmine:\n  <<: *b\n  x: 3\n"
    assert parse_yaml(text, "f.yaml")["mine"] == {"x": 3, "y": 2}


# --- catalog -----------------------------------------------------------------------------------


def user_catalog() -> dict:
    model = json.loads(BUILTIN_CATALOG_PATH.read_text())["models"]["A100-40GB"]
    return {"models": {"A800-40GB": model}}


def test_a_catalog_from_bytes_or_a_path(tmp_path: Path) -> None:
    data = json.dumps(user_catalog()).encode()
    path = tmp_path / "mine.json"
    path.write_bytes(data)
    assert load_catalog(data) == load_catalog(path) == load_catalog(str(path))
    assert "A800-40GB" in load_catalog(data, label="upload.json").models


def test_a_yaml_catalog_from_bytes_is_told_by_its_label() -> None:
    import yaml

    data = yaml.safe_dump(user_catalog()).encode()
    assert "A800-40GB" in load_catalog(data, label="mine.YML").models
    found = issues_of(load_catalog, data, label="mine.json")
    assert found[0].startswith("mine.json:1: not valid JSON")


def test_catalog_messages_name_the_label() -> None:
    assert issues_of(load_catalog, b"[1]", label="up.json") == [
        "up.json: expected an object with a `models` mapping (see data/mig_catalog.json)"
    ]
    assert issues_of(load_catalog, b'{"models": {}, "models": {}}', label="up.json") == [
        'up.json:1: duplicate key "models" (each key once per object)'
    ]
    assert issues_of(load_catalog, b"\xff", label="up.yaml") == [
        "up.yaml:1: byte 0xff is not valid UTF-8 (save the file as UTF-8)"
    ]


def test_the_builtin_catalog_is_read_once() -> None:
    assert load_catalog() is load_catalog()


# --- plan --------------------------------------------------------------------------------------


def test_a_plan_from_bytes_or_a_path(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{"status": "optimal", "gpus": []}')
    assert (
        read_plan_json(path)
        == read_plan_json(path.read_bytes())
        == {
            "status": "optimal",
            "gpus": [],
        }
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'"x"', "plan.json: expected a JSON object (a plan), found a JSON string"),
        (b"[1]", "plan.json: expected a JSON object (a plan), found a JSON list"),
        (b"null", "plan.json: expected a JSON object (a plan), found a JSON null"),
        (b'{"gpus": [],\n"gpus": []}', 'plan.json:2: duplicate key "gpus" (each key once'),
        (b'{"status": "\xff"}', "plan.json:1: byte 0xff is not valid UTF-8"),
    ],
)
def test_unusable_plans(content: bytes, message: str) -> None:
    assert issues_of(read_plan_json, content)[0].startswith(message)


def test_a_plan_path_is_named_as_given(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    assert issues_of(read_plan_json, str(missing)) == [f"{missing}: file not found"]


def test_yaml_line_map_names_the_line_of_each_value_with_an_offset() -> None:
    from recommender.reading.source import parse_yaml_lines

    text = b"a:\n  b:\n    - x\n    - y: 1\nc: 2\n"
    document, lines = parse_yaml_lines(text, "f.yaml", line_offset=10)
    assert document == {"a": {"b": ["x", {"y": 1}]}, "c": 2}
    # An unknown path names its deepest known value: `a`'s mapping, which starts on line 2.
    assert (lines.line("a", "b", 1, "y"), lines.line("c"), lines.line("a", "nope")) == (14, 15, 12)
    assert issues_of(parse_yaml_lines, b"a: 1\na: 2\n", "f.yaml", None, 10) == [
        "f.yaml:12: duplicate key a (each key once per mapping)"
    ]
    assert issues_of(parse_yaml_lines, b"a: [\n", "f.yaml", "a config", 3)[0].startswith(
        "f.yaml:5: not valid YAML"
    )


def test_expected_content_refuses_empty_and_binary_naming_what_was_expected() -> None:
    assert issues_of(read_text, b" \n", "c.txt", "a capture") == [
        "c.txt: empty (expected a capture)"
    ]
    assert issues_of(read_text, b"a\x00b", "c.txt", "a capture") == [
        "c.txt: binary data, not text (expected a capture)"
    ]
    assert read_text(b" \n", "c.txt") == " \n"  # without `expected`, as before
