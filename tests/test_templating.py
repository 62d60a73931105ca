"""Rule message templates: sandboxed, bounded, and forgiving about missing values."""
import pytest

from formloom.definitions.model import freeze
from formloom.templating import MAX_OUTPUT_LENGTH, TemplateError, check_template, render


def test_template_renders_record_values():
    assert render("No feedback on {{ record.name }}", {"record": {"name": "Acme"}}) == "No feedback on Acme"


def test_template_renders_frozen_context():
    context = freeze({"record": {"lines": [{"sku": "A"}, {"sku": "B"}]}})
    assert render("{% for l in record.lines %}{{ l.sku }}{% endfor %}", context) == "AB"


def test_template_does_not_escape_plain_text():
    assert render("{{ record.name }}", {"record": {"name": "<b>&"}}) == "<b>&"


def test_undefined_values_render_empty():
    assert render("[{{ record.missing.deeper }}]", {"record": {}}) == "[]"


def test_allowed_filters_work():
    assert render("{{ record.name|upper }}", {"record": {"name": "zhang"}}) == "ZHANG"


def test_check_template_accepts_if_and_for():
    assert check_template("{% if record.vip %}VIP {% endif %}{{ record.name|default('?') }}") is None


def test_check_template_reports_syntax_error_with_line():
    problem = check_template("line one\n{{ record.name ")
    assert problem and problem.startswith("has a syntax error on line 2")


def test_template_sandbox_blocks_attribute_escape():
    source = "{{ ''.__class__.__mro__ }}"
    assert "names starting with '_'" in check_template(source)
    with pytest.raises(TemplateError):
        render(source, {})


def test_template_sandbox_blocks_computed_dunder_lookup():
    assert "class" not in render("{{ record['__cl' ~ 'ass__'] }}", {"record": {}})


def test_template_refuses_function_calls():
    assert "calls a function" in check_template("{{ range(10) }}")


def test_template_refuses_string_formatting_methods():
    assert check_template("{{ '{:>999999999}'.format(1) }}") is not None


def test_template_refuses_power_operator():
    assert check_template("{{ 10 ** 10 ** 10 }}") is not None


def test_template_refuses_width_filters():
    assert "'center'" in check_template("{{ 'a'|center(999999999) }}")


def test_template_refuses_set_and_macro():
    assert check_template("{% set x = 1 %}") is not None
    assert check_template("{% macro m() %}{% endmacro %}") is not None


def test_template_refuses_deeply_nested_loops():
    source = "{% for a in x %}{% for b in x %}{% for c in x %}{% endfor %}{% endfor %}{% endfor %}"
    assert "loops" in check_template(source)


def test_template_refuses_repeating_text_with_multiplication():
    with pytest.raises(TemplateError):
        render("{{ 'a' * 1000000000 }}", {})


def test_template_allows_multiplying_numbers():
    assert render("{{ record.amount * 2 }}", {"record": {"amount": 21}}) == "42"


def test_render_raises_template_error_for_refused_template():
    with pytest.raises(TemplateError, match="calls a function"):
        render("{{ lipsum() }}", {})


def test_render_caps_output_length():
    context = {"record": {"rows": ["x" * 100] * 500}}
    text = render("{% for r in record.rows %}{{ r }}{% endfor %}", context)
    assert len(text) == MAX_OUTPUT_LENGTH


def test_render_wraps_undefined_arithmetic_in_template_error():
    with pytest.raises(TemplateError):
        render("{{ record.nothing + 1 }}", {"record": {}})


# -- a step budget, not only a size cap (issue 10, item 8) ----------------------------------

def test_a_loop_in_a_loop_over_a_long_text_stops_at_the_step_budget():
    from formloom.templating import MAX_STEPS

    source = "{% for a in record.text %}{% for b in record.text %}{% endfor %}{% endfor %}"
    assert check_template(source) is None            # allowed by the grammar: only the work is bounded
    with pytest.raises(TemplateError, match=f"stopped after {MAX_STEPS} loop steps"):
        render(source, {"record": {"text": "x" * 10_000}})


def test_the_step_budget_is_per_render_and_leaves_ordinary_loops_alone():
    context = {"record": {"rows": [{"n": i} for i in range(200)]}}
    source = "{% for r in record.rows %}{% for s in record.rows %}{% endfor %}{{ loop.length }}{% endfor %}"
    for _ in range(3):                                # 200 * 200 steps each time: within budget
        assert render(source, context).startswith("200200")


# -- the lookup fast path (no Jinja at render time) prints exactly what Jinja would --------------------

_CONTEXT = {"record": {"name": "Acme", "amount": 1.5, "none": None, "flag": True, "tags": ["a", "b"],
                       "owner": {"name": "Li"}, "items": "shadowed by dict.items"},
            "late": False, "rule": {"label": "Silence"}}


@pytest.mark.parametrize("source", [
    "plain text only",
    "Proposal waiting: {{ record.name }}",
    "{{ record.name }} / {{ record.amount }} / {{ record.none }} / {{ record.flag }} / {{ late }}",
    "{{ record.owner.name }}{{ record.owner }}{{ record.tags }}",
    "[{{ record.missing }}][{{ record.missing.deeper.still }}]",
    "{{ range.missing }}",                     # a Jinja global, not in the context
    "trailing newline\n",
    "{{ record.name|upper }} {% if late %}late{% endif %}",
])
def test_lookup_templates_render_as_jinja_does(source):
    from formloom.templating import _compile
    assert render(source, _CONTEXT) == _compile(source).render(_CONTEXT)


@pytest.mark.parametrize("source", ["{{ record.items }}", "{{ record.name.upper }}", "{{ range }}",
                                    "{{ record.none.x }}", "{{ record['name'] }}"])
def test_lookups_jinja_would_resolve_otherwise_are_left_to_jinja(source):
    """A dict method's name, an attribute of text or None, a Jinja global, a subscript."""
    from formloom.templating import _lookup_render, _lookups
    assert _lookup_render(_lookups(source), _CONTEXT) is None


def test_plain_and_lookup_templates_skip_jinja_at_render_time(monkeypatch):
    from formloom import templating
    render("Waiting: {{ record.name }}", _CONTEXT)           # compiled and planned
    monkeypatch.setattr(templating, "_BUDGET", None)         # the Jinja path would fail on this
    assert render("Waiting: {{ record.name }}", _CONTEXT) == "Waiting: Acme"
    assert render("{{ record.name }}", freeze(_CONTEXT)) == "Acme"


def test_lookup_templates_are_still_checked_and_capped():
    assert "attribute" in check_template("{{ record._secret }}")
    with pytest.raises(TemplateError):
        render("{{ record._secret }}", _CONTEXT)
    long = {"record": {"name": "x" * (MAX_OUTPUT_LENGTH + 10)}}
    assert len(render("{{ record.name }}", long)) == MAX_OUTPUT_LENGTH
