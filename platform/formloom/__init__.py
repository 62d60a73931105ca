"""Formloom: a zero-code form-and-workflow engine."""
__version__ = "0.1.0"


def __getattr__(name):
    # `flask --app formloom run` looks for `create_app` here; import lazily so the
    # CLI's document commands do not pay for the web stack.
    if name == "create_app":
        from .app import create_app
        return create_app
    raise AttributeError(name)
