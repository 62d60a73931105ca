"""WTForms widgets that write the same HTML as WTForms' own, faster.

A record form renders every field's widget on every request. WTForms builds each
attribute with `Markup.format` (a `string.Formatter` walk and several escapes per
attribute) and, for every <select>, looks up `render_option`'s signature with
`inspect.signature`; on a form of twenty fields with a few option lists that was
most of the page's time. These widgets escape each value once with `markupsafe.escape`
and join plain strings; their output is byte-for-byte WTForms' (tests/fields/
test_widgets.py holds them equal), so templates, tests and browsers see no change.
"""
from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape
from wtforms.widgets import CheckboxInput, Input, Select, TextArea
from wtforms.widgets.core import clean_key


class _NoFlags:
    pass


_NO_FLAGS = _NoFlags()


def html_params(**kwargs: Any) -> str:
    """`wtforms.widgets.html_params`, same output: sorted attributes, `True` as a bare name,
    `False` left out, every value escaped with its double quotes as `&quot;`."""
    parts = []
    for k, v in sorted(kwargs.items()):
        if v is False:
            continue
        k = str(escape(clean_key(k)))
        if v is True:
            parts.append(k)
        else:
            parts.append(f'{k}="{str(escape(v)).replace(chr(34), "&quot;")}"')
    return Markup(" ".join(parts))


def _validation_attrs(widget: Any, field: Any, kwargs: dict) -> None:
    flags = vars(getattr(field, "flags", None) or _NO_FLAGS)     # what WTForms' dir(flags) walk finds
    for k in widget.validation_attrs:
        if k in flags and k not in kwargs:
            kwargs[k] = flags[k]


class FastInput(Input):
    """An <input> of any type (text, email, tel, url, date, datetime-local...)."""

    validation_attrs = ["required", "maxlength", "minlength", "pattern", "min", "max", "step"]
    html_params = staticmethod(html_params)

    def __call__(self, field: Any, **kwargs: Any) -> Markup:
        kwargs.setdefault("id", field.id)
        kwargs.setdefault("type", self.input_type)
        if "value" not in kwargs:
            kwargs["value"] = field._value()
        datalist = getattr(field, "_datalist", None)
        if datalist is not None and "list" not in kwargs:
            kwargs["list"] = datalist if isinstance(datalist, str) else datalist.id
        flags = vars(getattr(field, "flags", None) or _NO_FLAGS)
        for k in self.validation_attrs:
            if k in flags and k not in kwargs:
                value = flags[k]
                kwargs[k] = value() if callable(value) else value
        return Markup(f"<input {html_params(name=field.name, **kwargs)}>")


class FastCheckbox(CheckboxInput):
    validation_attrs = ["required", "disabled"]

    def __call__(self, field: Any, **kwargs: Any) -> Markup:
        if getattr(field, "checked", field.data):
            kwargs.setdefault("checked", True)
        kwargs.setdefault("id", field.id)
        kwargs.setdefault("type", self.input_type)
        if "value" not in kwargs:
            kwargs["value"] = field._value()
        _validation_attrs(self, field, kwargs)
        return Markup(f"<input {html_params(name=field.name, **kwargs)}>")


class FastTextArea(TextArea):
    def __call__(self, field: Any, **kwargs: Any) -> Markup:
        kwargs.setdefault("id", field.id)
        _validation_attrs(self, field, kwargs)
        return Markup(f"<textarea {html_params(name=field.name, **kwargs)}>\r\n{escape(field._value())}</textarea>")


class FastSelect(Select):
    """A <select> whose options are written directly (no per-option signature look-up)."""

    def __call__(self, field: Any, **kwargs: Any) -> Markup:
        if field.has_groups():                      # optgroups: WTForms' own path (never built by Formloom today)
            return super().__call__(field, **kwargs)
        kwargs.setdefault("id", field.id)
        if self.multiple:
            kwargs["multiple"] = True
        _validation_attrs(self, field, kwargs)
        html = [f"<select {html_params(name=field.name, **kwargs)}>"]
        for choice in field._iter_choices_normalized():
            value = choice.value
            if isinstance(value, bool):
                value = str(value)
            if choice.render_kw:
                options = {"value": value, **choice.render_kw}
                if choice.selected:
                    options["selected"] = True
                attrs = html_params(**options)
            else:
                attrs = ("selected " if choice.selected else "") + f'value="{str(escape(value)).replace(chr(34), "&quot;")}"'
            html.append(f"<option {attrs}>{escape(choice.label or choice.value)}</option>")
        html.append("</select>")
        return Markup("".join(html))
