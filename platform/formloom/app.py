"""The Flask application factory (also what `flask --app formloom run` finds)."""
from __future__ import annotations

import logging
from typing import Any, Mapping

from flask import Flask

from . import config as config_module
from .store.apps import AppCatalog
from .store.db import Database

log = logging.getLogger(__name__)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    settings = config_module.settings_from_env()
    if test_config:
        settings.update(test_config)
    flask_app = Flask("formloom", instance_path=settings["INSTANCE"],
                      static_folder=None, template_folder="web/templates")
    flask_app.config.update(settings)
    flask_app.extensions["formloom.db"] = db = Database(flask_app.config["DATABASE_URL"])
    flask_app.extensions["formloom.catalog"] = AppCatalog(db)

    from .web import setup as web_setup   # web imports everything; keep the import here
    web_setup.init_app(flask_app)
    return flask_app
