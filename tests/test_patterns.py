"""Admin-supplied patterns go through RE2: linear time, clear refusals."""
import pytest

from formloom.patterns import MAX_PATTERN_LENGTH, PatternError, check_pattern, compile_pattern


def test_valid_pattern_is_accepted():
    assert check_pattern(r"^[A-Z]{2}-\d{4}$") is None


def test_compiled_pattern_fullmatches_whole_text_only():
    pattern = compile_pattern(r"[A-Z]{2}-\d{4}")
    assert pattern.fullmatch("AB-1234")
    assert not pattern.fullmatch("AB-12345")


def test_pattern_matches_chinese_text():
    assert compile_pattern(r"\p{Han}+").fullmatch("客户管理")


def test_pattern_longer_than_limit_is_refused():
    problem = check_pattern("a" * (MAX_PATTERN_LENGTH + 1))
    assert problem and "at most 200" in problem


def test_backreference_is_refused_with_explanation():
    problem = check_pattern(r"(a)\1")
    assert problem and "RE2" in problem and "backreferences" in problem


def test_lookahead_is_refused():
    assert check_pattern(r"(?=a)a") is not None


def test_unbalanced_bracket_is_refused():
    assert "not a valid pattern" in check_pattern("[a-z")


def test_huge_repetition_is_refused():
    assert check_pattern("((a{100}){100}){100}") is not None


def test_compile_pattern_raises_pattern_error_for_invalid_pattern():
    with pytest.raises(PatternError, match="not a valid pattern"):
        compile_pattern(r"(a)\1")


def test_compile_pattern_is_cached():
    assert compile_pattern("x+y") is compile_pattern("x+y")


def test_catastrophic_regex_runs_in_linear_time():
    text = "a" * 50_000 + "!"
    assert compile_pattern(r"(a+)+$").fullmatch(text) is None
    assert compile_pattern(r"(a|aa)*b").fullmatch(text) is None
