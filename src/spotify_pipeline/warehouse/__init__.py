"""The SQL warehouse: SQLAlchemy Core schema, Alembic migrations, dialect-specific upserts, writes,
reads and the state store. SQLite and MySQL/MariaDB.

Use ``engine.make_engine(url)`` and ``engine.upgrade(engine)``, then ``writes``/``reads`` inside
``engine.begin()``/``engine.connect()``.
"""
