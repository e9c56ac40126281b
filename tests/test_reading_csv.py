"""CSV structure: wrong field counts, quotes, duplicated columns, line ends, real line numbers.

The numpy scanner (`_scan_fast`) and Python's csv module (`_read_with_csv_module`, used for
irregular quoting) must agree wherever both apply; both name the physical line of a problem.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender.catalog import Catalog
from recommender.errors import InputError
from recommender.problem import Pool, Workload
from recommender.reading import load_catalog, load_problem, read_fleet, read_workloads, tables
from recommender.reading.tables import build_checked

HEADER = b"name,memory_gb,compute_slices,replicas,gpu_models,priority,media,spread\n"
FLEET = b"pool,gpu_model,gpus,cost_per_hour\np,A30,1,1\n"


def problems(text: bytes, catalog: Catalog) -> list[str]:
    with pytest.raises(InputError) as caught:
        read_workloads(text, catalog)
    return [str(issue) for issue in caught.value.issues]


def test_a_short_row_is_refused_not_filled_with_defaults(catalog: Catalog) -> None:
    found = problems(HEADER + b"a,4,1,1,,1,no,no\nb,4,1\nc,x,1,1,,1,no,no\n", catalog)
    assert found == [
        "workloads.csv:3: expected 8 fields, found 3 (one per header column; leave a value "
        "empty for its default)",
        "workloads.csv:4: memory_gb: 'x' is not a number (expected a number > 0)",
    ]


def test_a_row_with_an_extra_field_names_its_line(catalog: Catalog) -> None:
    found = problems(HEADER + b"a,4,1,1,,1,no,no\nb,4,1,1,,1,no,no,9\n", catalog)
    assert found == [
        "workloads.csv:3: expected 8 fields, found 9 (one per header column; quote a value with "
        "a comma)"
    ]
    assert not any("C error" in issue for issue in found)


def test_a_trailing_comma_is_an_extra_field(catalog: Catalog) -> None:
    found = problems(b"name,memory_gb\na,4,\n", catalog)
    assert found[0].startswith("workloads.csv:2: expected 2 fields, found 3")


def test_an_unclosed_quote_names_the_line_and_column_where_it_opens(catalog: Catalog) -> None:
    text = HEADER + b'"a\nb",4,1,1,,1,no,no\nq,4,1,1,"A30-24GB,1,no,no\nc,4,1,1,,1,no,no\n'
    assert problems(text, catalog) == [
        'workloads.csv:4: gpu_models: quoted field is never closed (end it with "; write a quote '
        'inside it as "")'
    ]


def test_an_unclosed_quote_after_doubled_quotes(catalog: Catalog) -> None:
    found = problems(b'name,memory_gb\na,1\n"x""y,2\nb,3\n', catalog)
    assert found == [
        'workloads.csv:3: name: quoted field is never closed (end it with "; write a quote '
        'inside it as "")'
    ]


def test_an_unclosed_quote_in_the_header(catalog: Catalog) -> None:
    assert problems(b'name,"memory_gb\na,4\n', catalog)[0].startswith(
        "workloads.csv:1: quoted field is never closed"
    )


def test_rows_before_an_unclosed_quote_are_still_checked(catalog: Catalog) -> None:
    found = problems(b'name,memory_gb\na,zero\nb,"4\n', catalog)
    assert found[0] == "workloads.csv:2: memory_gb: 'zero' is not a number (expected a number > 0)"
    assert found[1].startswith("workloads.csv:3: memory_gb: quoted field is never closed")


def test_text_after_a_closing_quote(catalog: Catalog) -> None:
    found = problems(b'name,memory_gb\n"a"b,4\nc,1\n', catalog)
    assert found == [
        "workloads.csv:2: text after a closing quote (a quoted field ends at its quote; write one "
        'as "")'
    ]


def test_a_duplicated_column_is_named(catalog: Catalog) -> None:
    found = problems(b"name,memory_gb,memory_gb\na,1,2\n", catalog)
    assert found == ["workloads.csv:1: duplicate column memory_gb (each column once)"]
    assert not any("memory_gb.1" in issue for issue in found)


def test_an_unnamed_column(catalog: Catalog) -> None:
    found = problems(b"name,memory_gb,\na,1,\n", catalog)
    assert found[0].startswith("workloads.csv:1: a column has no name (allowed: name, memory_gb")


def test_header_problems_name_the_header_line_after_blank_lines(catalog: Catalog) -> None:
    found = problems(b"\n\nname,memory,replicas\n", catalog)
    assert "workloads.csv:3: memory: unknown column (allowed: name, memory_gb," in found[0]


def test_every_structural_problem_at_once_across_both_files(catalog: Catalog) -> None:
    with pytest.raises(InputError) as caught:
        load_problem(
            b"name,memory_gb\na\nb,1,2\nc,x\n",
            b"pool,gpu_model,gpus,cost_per_hour\np,A30,1\n",
            catalog,
        )
    found = [str(issue) for issue in caught.value.issues]
    assert [issue.split(" (")[0] for issue in found] == [
        "workloads.csv:2: expected 2 fields, found 1",
        "workloads.csv:3: expected 2 fields, found 3",
        "workloads.csv:4: memory_gb: 'x' is not a number",
        "fleet.csv:2: expected 4 fields, found 3",
    ]


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        (b"name,memory_gb\na,1\nb,2\n", [2, 3]),
        (b"name,memory_gb\n\n\na,1\n  \nb,2", [4, 6]),
        (b"\n\nname,memory_gb\na,1\n", [4]),
        (b'name,memory_gb\n"x\n\ny",1\nb,2\n', [2, 5]),
        (b'name,memory_gb\r\n"x\r\ny",1\r\nb,2\r\n', [2, 4]),
        (b"name,memory_gb\ra,1\rb,2\r", [2, 3]),
        (b'name,memory_gb\n5" screen,1\n"a ""b""",2\n', [2, 3]),
        (b'name,memory_gb\n "a, b", "1"\nc, 2\n', [2, 3]),
        (b"\xef\xbb\xbfname,memory_gb\na,1\n", [2]),
    ],
    ids=[
        "plain",
        "blank lines",
        "blank lines before the header",
        "quoted line breaks",
        "quoted CRLF",
        "CR line ends",
        "stray and doubled quotes",
        "quotes after spaces",
        "byte order mark",
    ],
)
def test_rows_carry_the_line_they_start_on(text: bytes, lines: list[int], catalog: Catalog) -> None:
    assert [w.line for w in read_workloads(text, catalog)] == lines


def test_quoted_values_keep_commas_quotes_and_line_breaks(catalog: Catalog) -> None:
    text = b'name,memory_gb\n"a, b",1\n"say ""hi""",2\n"two\nlines",3\n 5" screen ,4\n'
    names = [w.name for w in read_workloads(text, catalog)]
    assert names == ["a, b", 'say "hi"', "two\nlines", '5" screen']


def test_bytes_and_paths_read_the_same(tmp_path: Path, catalog: Catalog) -> None:
    text = HEADER + b'"a, b",4,1,2,A30|A100-40GB,3,yes,no\nc,1,,,,,,\n'
    path = tmp_path / "w.csv"
    path.write_bytes(text)
    assert read_workloads(path, catalog) == read_workloads(text, catalog)
    assert read_workloads(str(path), catalog) == read_workloads(text, catalog)


def test_a_large_file_reports_every_problem_but_prints_a_capped_report(catalog: Catalog) -> None:
    rows = b"".join(
        b"w%d,%s\n" % (i, b"oops" if i % 10 == 0 else b"1") if i % 7 else b"w%d\n" % i
        for i in range(5000)
    )
    with pytest.raises(InputError) as caught:
        read_workloads(b"name,memory_gb\n" + rows, catalog)
    expected = sum(1 for i in range(5000) if i % 7 == 0 or i % 10 == 0)
    assert len(caught.value.issues) == expected
    lines = [issue.line for issue in caught.value.issues]
    assert lines == sorted(lines)
    assert len(caught.value.report().splitlines()) == 201


# --- the numpy scanner agrees with the csv module ----------------------------------------------

CATALOG = load_catalog()
FIELDS = ["a", "1", "", " x ", '"q, r"', '"multi\nline"', '"say ""hi"""', '""', "A30"]


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    rows = draw(
        st.lists(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3), min_size=1, max_size=8)
    )
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    blank = draw(st.sampled_from(["", ending, "  " + ending]))
    lines = ["name,memory_gb"] + [",".join(row) for row in rows]
    return (blank + ending.join(lines) + draw(st.sampled_from(["", ending]))).encode()


def outcome(text: bytes, catalog: Catalog) -> tuple[str, list]:
    try:
        return "ok", [(w.name, w.memory_gb, w.line) for w in read_workloads(text, catalog)]
    except InputError as exc:
        return "issues", [str(issue) for issue in exc.issues]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=csv_files())
def test_the_numpy_scanner_and_the_csv_module_agree(text: bytes) -> None:
    fast = outcome(text, CATALOG)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tables, "_scan_fast", lambda raw: None)
        assert outcome(text, CATALOG) == fast


# --- models built from checked values ----------------------------------------------------------


def test_built_models_equal_validated_ones(catalog: Catalog) -> None:
    text = HEADER + b"a,4.5,2,3,A30|A100-40GB,2,yes,\nb,1,,,,,,true\n"
    for built in read_workloads(text, catalog):
        validated = Workload.model_validate(built.model_dump() | {"line": built.line})
        assert built == validated and hash(built) == hash(validated)
        assert built.__getstate__() == validated.__getstate__() | {
            "__pydantic_fields_set__": built.model_fields_set
        }
        assert built.model_copy(update={"replicas": 9}).replicas == 9 and built.replicas != 9
        with pytest.raises(ValueError, match="frozen"):
            built.replicas = 5
    (pool,) = read_fleet(FLEET, catalog)
    assert pool == Pool(pool="p", gpu_model="A30-24GB", gpus=1, cost_per_hour=1.0, line=2)


def test_building_falls_back_to_validation_when_construction_differs() -> None:
    # A model with a mutable default cannot share it between instances: every row is validated.
    from pydantic import BaseModel, Field

    class Tagged(BaseModel):
        name: str
        tags: list[str] = Field(default_factory=list)

    built = build_checked(Tagged, {"name": ["a", "b"]})
    assert built == [Tagged(name="a"), Tagged(name="b")]
    assert built[0].tags is not built[1].tags
