"""The fast widgets write exactly the HTML WTForms' own widgets write, for every
kind of value a record form renders: quotes and markup in values and labels,
selected options, disabled and required fields, numbers and zero as attributes."""
import pytest
from wtforms import BooleanField, Form, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms import validators as v
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, Input, Select, TextArea, html_params as wtforms_params

from formloom.fields.widgets import FastCheckbox, FastInput, FastSelect, FastTextArea, html_params

TRICKY = 'a "quoted" <b>&</b> \'value\''
CHOICES = [SelectChoice(value, text) for value, text in
           [("", ""), ("expo", "Trade show"), ("ref", TRICKY), ("x\"y", "<i>")]]


class _Plain(Input):
    validation_attrs = FastInput.validation_attrs


def _form(widgets: dict, data: dict):
    fields = {
        "name": StringField(widget=widgets["input"]("text"), validators=[v.InputRequired(), v.Length(max=120)],
                            render_kw={"placeholder": TRICKY, "data-step": "0.01", "inputmode": "decimal"}),
        "score": StringField(widget=widgets["input"]("number"), render_kw={"min": 0, "max": 100, "step": 1}),
        "note": TextAreaField(widget=widgets["area"](), validators=[v.Optional()], render_kw={"maxlength": 500}),
        "source": SelectField(choices=CHOICES, validate_choice=False, widget=widgets["select"]()),
        "tags": SelectMultipleField(choices=CHOICES[1:], validate_choice=False,
                                    widget=widgets["select"](multiple=True)),
        "agreed": BooleanField(widget=widgets["check"]()),
    }
    return type("F", (Form,), fields)(data=data)


WTFORMS = {"input": _Plain, "area": TextArea, "select": Select, "check": CheckboxInput}
FAST = {"input": FastInput, "area": FastTextArea, "select": FastSelect, "check": FastCheckbox}


@pytest.mark.parametrize("data", [
    {},
    {"name": TRICKY, "score": 0, "note": TRICKY, "source": "ref", "tags": ["expo", 'x"y'], "agreed": True},
    {"name": "", "source": 'x"y', "tags": [], "agreed": False},
])
@pytest.mark.parametrize("extra", [{}, {"disabled": True}, {"aria-invalid": "true", "aria-describedby": "err-x"},
                                   {"disabled": False, "class_": "wide"}])
def test_fast_widgets_render_what_wtforms_renders(data, extra):
    theirs, ours = _form(WTFORMS, data), _form(FAST, data)
    for name in ("name", "score", "note", "source", "tags", "agreed"):
        assert str(ours[name](**extra)) == str(theirs[name](**extra)), name


def test_html_params_matches_wtforms_for_every_kind_of_value():
    values = dict(data_picker="ref", aria_label=TRICKY, checked=True, readonly=False, value=0, name=None,
                  class_="a&b", title='"')
    assert html_params(**values) == wtforms_params(**values)
