"""Alembic environment: runs migrations against the URL set by formloom.store.migrate."""
from alembic import context
from sqlalchemy import pool

from formloom.store.db import make_engine
from formloom.store.tables import metadata
import formloom.automation.tables  # noqa: F401  (its tables live on the same metadata)

config = context.config


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
