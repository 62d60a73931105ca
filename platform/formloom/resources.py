"""The one place that knows where bundled files live.

In a source checkout (editable install, or `pythonpath=platform`) the folders
sit at the repository root; in a wheel they are copied into
`formloom/_bundled/` (see pyproject's force-include). Everything else asks
here and never builds paths relative to the repository.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def _root() -> Path:
    bundled = _PACKAGE / "_bundled"
    if bundled.is_dir():
        return bundled
    return _PACKAGE.parent.parent     # platform/formloom -> repository root


def app_templates_dir() -> Path:
    return _root() / "app_templates"


def workflows_dir() -> Path:
    return _root() / "workflows"


def static_dir() -> Path:
    return _root() / "static"


def template_dir(key: str) -> Path:
    """The folder of a shipped app template, e.g. template_dir("crm")."""
    return app_templates_dir() / key
