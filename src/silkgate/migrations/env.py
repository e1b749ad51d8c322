"""Alembic environment: runs migrations against the URL given by silkgate.core.migrations."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import silkgate.models  # noqa: F401  (registers every table on Base.metadata)
from silkgate.core.db import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url is not None

if context.is_offline_mode():
    context.configure(
        url=url, target_metadata=Base.metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=Base.metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
