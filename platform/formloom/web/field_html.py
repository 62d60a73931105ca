"""A record form's field, written in Python instead of through a Jinja include per field.

records/_field.html and its widget (fields/input.html, fields/checkbox.html) cost two
template includes per field, each copying the whole page context: most of the time of
a form page. For the widgets most fields use, the same markup is written here; a field
with another widget (references, files, any an extension registers) keeps the include.
tests/web/test_field_html.py holds both to the same HTML.
"""
from __future__ import annotations

from typing import Any

from flask import current_app
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup, escape

from ..fields import field_type
from .helpers import label

#: The widgets written here; any other widget_template is included as before.
INPUT = "fields/input.html"
CHECKBOX = "fields/checkbox.html"
WRITTEN = frozenset((INPUT, CHECKBOX))


def _tojson(value: Any) -> Markup:
    """Jinja's |tojson, with the JSON settings the app gives its templates."""
    policies = current_app.jinja_env.policies
    return htmlsafe_json_dumps(value, dumps=policies["json.dumps_function"], **policies["json.dumps_kwargs"])


def written_here(fv: Any) -> bool:
    return field_type(fv.f.type).widget_template in WRITTEN


def field_html(fv: Any, validate_url: str) -> Markup:
    """records/_field.html for `fv` (a records.FieldView) whose widget is in WRITTEN."""
    f, field = fv.f, fv.field
    ftype = field_type(f.type)
    key = escape(f.key)
    live = not fv.readonly and ftype.validates_live
    out = [f'<div class="field field-{escape(f.type)}{" has-error" if fv.errors else ""}'
           f'{" is-readonly" if fv.readonly else ""}" id="field-{key}" data-field="{key}"\n']
    if fv.rule is not None:
        out.append(f" data-visible-if='{_tojson(fv.rule)}'")
    if live:
        url = escape(validate_url).replace("__key__", key)
        out.append(f' hx-post="{url}" hx-trigger="focusout" hx-target="this" hx-swap="outerHTML"'
                   ' hx-include="closest form"')
    out.append(">\n")
    attrs = {"aria-invalid": "true", "aria-describedby": f"err-{f.key}"} if fv.errors else {}
    widget = field(disabled=fv.readonly, **attrs)
    if ftype.widget_template == CHECKBOX:
        out.append(f'<label class="check">{widget} {escape(label(f.label))}</label>')
    else:
        required = '<span class="req" aria-hidden="true">*</span>' if f.required and f.visible_if is None else ""
        out.append(f'<label for="{escape(field.id)}">{escape(label(f.label))}{required}</label>\n  {widget}')
    if field.description:
        out.append(f'<p class="help">{escape(field.description)}</p>')
    if fv.errors:
        out.append(f'  <div id="err-{key}">\n')
        out.extend(f'<p class="error-text" role="alert">{escape(message)}</p>' for message in fv.errors)
        out.append("  </div>\n")
    out.append("</div>")
    return Markup("".join(out))
