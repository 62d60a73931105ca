"""Reading documents: what is refused before anything else looks at them."""
from __future__ import annotations

import json

import pytest

from formloom.definitions.load import MAX_DEPTH, MAX_DOCUMENT_BYTES, load_document, parse_document
from formloom.definitions.problems import DocumentError, Problem


def refusal(text: str) -> list[Problem]:
    with pytest.raises(DocumentError) as caught:
        parse_document(text, "doc.json")
    return caught.value.problems


def test_a_json_object_is_read_into_a_dict():
    assert parse_document('{"key": "crm", "roles": ["admin"]}', "doc.json") == {"key": "crm", "roles": ["admin"]}


def test_problem_prints_as_source_path_and_sentence():
    assert str(Problem("app.json", "$.key", "Bad.")) == "app.json: $.key: Bad."


def test_malformed_json_is_reported_with_line_and_column():
    [problem] = refusal('{\n  "key": "crm"\n  "label": "CRM"\n}')
    assert problem.source == "doc.json"
    assert "line 3, column 3" in problem.message
    assert "comma" in problem.message


def test_trailing_comma_is_reported_with_a_hint():
    [problem] = refusal('{"key": "crm",}')
    assert "line 1, column 15" in problem.message
    assert "trailing comma" in problem.message


def test_a_document_that_stops_early_says_so():
    [problem] = refusal('{"key": "crm"')
    assert "ends too early" in problem.message


def test_duplicate_keys_are_refused_naming_the_key_and_where():
    problems = refusal('{"key": "a", "entities": [{"key": "x", "title": "a", "title": "b"}], "key": "b"}')
    assert [(p.json_path, p.message.split(" appears")[0]) for p in problems] == [
        ("$", "The key 'key'"), ("$.entities[0]", "The key 'title'")]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_literals_are_refused(literal):
    [problem] = refusal('{\n"min": ' + literal + "}")
    assert literal in problem.message and "line 2, column 8" in problem.message


def test_a_number_too_large_for_a_float_is_refused():
    [problem] = refusal('{"max": 1e400}')
    assert "1e400" in problem.message


def test_a_top_level_list_is_refused():
    [problem] = refusal("[1, 2]")
    assert "must be a JSON object" in problem.message


def test_a_document_over_the_size_limit_is_refused():
    text = '{"pad": "' + "x" * MAX_DOCUMENT_BYTES + '"}'
    [problem] = refusal(text)
    assert "larger than" in problem.message


def test_a_very_deep_list_is_refused_without_recursion_error():
    [problem] = refusal("[" * 100_000 + "]" * 100_000)
    assert f"more than {MAX_DEPTH} levels" in problem.message


def test_a_very_deep_object_is_refused_even_when_malformed():
    [problem] = refusal('{"a":' * 100_000)
    assert f"more than {MAX_DEPTH} levels" in problem.message


def test_nesting_up_to_the_limit_is_accepted():
    text = '{"a":' + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "}"
    assert isinstance(parse_document(text, "doc.json")["a"], list)


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = json.dumps({"label": "[" * 500 + '{"\\"' * 100})
    assert parse_document(text, "doc.json")["label"].startswith("[[[")


def test_load_document_reads_utf8_with_or_without_bom(tmp_path):
    path = tmp_path / "app.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"label": "客户管理"}, ensure_ascii=False).encode())
    assert load_document(path) == {"label": "客户管理"}


def test_load_document_refuses_text_that_is_not_utf8(tmp_path):
    path = tmp_path / "app.json"
    path.write_bytes('{"label": "客户"}'.encode("gb18030"))
    with pytest.raises(DocumentError) as caught:
        load_document(path)
    assert "not UTF-8" in caught.value.problems[0].message


def test_load_document_refuses_a_big_file_before_reading_it_all(tmp_path):
    path = tmp_path / "app.json"
    path.write_bytes(b'{"pad": "' + b"x" * (MAX_DOCUMENT_BYTES + 10) + b'"}')
    with pytest.raises(DocumentError) as caught:
        load_document(path)
    assert caught.value.problems[0].source == str(path)
    assert "larger than" in caught.value.problems[0].message


def test_load_document_reports_a_missing_file(tmp_path):
    with pytest.raises(DocumentError) as caught:
        load_document(tmp_path / "nope.json")
    assert "does not exist" in caught.value.problems[0].message
