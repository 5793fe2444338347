"""Warehouse migrations on a real PostgreSQL: upgrade, downgrade to base, upgrade again."""

from __future__ import annotations

from sqlalchemy import Engine, text

from warehouse_sql import migrate

CATALOG_QUERIES = {
    "columns": """
        SELECT table_name, column_name, data_type, is_nullable, column_default,
               numeric_precision, numeric_scale
        FROM information_schema.columns WHERE table_schema = 'webhook'
        ORDER BY table_name, column_name
    """,
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'webhook'
        ORDER BY tablename, indexname
    """,
    "constraints": """
        SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid)
        FROM pg_constraint AS c JOIN pg_namespace AS n ON n.oid = c.connamespace
        WHERE n.nspname = 'webhook' ORDER BY 1, 2
    """,
    "views": """
        SELECT table_name, view_definition FROM information_schema.views
        WHERE table_schema = 'webhook' ORDER BY table_name
    """,
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid)
        FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
        WHERE n.nspname = 'webhook' ORDER BY 1, 2
    """,
}


def catalog(engine: Engine) -> dict[str, list[tuple]]:
    with engine.connect() as connection:
        return {
            name: [tuple(row) for row in connection.execute(text(query))]
            for name, query in CATALOG_QUERIES.items()
        }


def test_migrations_round_trip_catalog(migrated_engine: Engine) -> None:
    before = catalog(migrated_engine)

    migrate.downgrade(migrated_engine, "base")
    emptied = catalog(migrated_engine)
    migrate.upgrade(migrated_engine, "head")
    after = catalog(migrated_engine)

    assert all(rows == [] for rows in emptied.values())
    assert before["columns"]
    assert after == before


def test_metrics_crawl_id_references_sessions(migrated_engine: Engine) -> None:
    constraints = catalog(migrated_engine)["constraints"]

    foreign_keys = [row for row in constraints if row[0] == "webhook.operation_metrics"]

    assert any(
        "REFERENCES webhook.crawl_sessions(crawl_id) ON DELETE SET NULL" in row[3]
        for row in foreign_keys
    )


def test_metrics_crawl_id_is_indexed(migrated_engine: Engine) -> None:
    indexes = catalog(migrated_engine)["indexes"]

    assert any(row[0] == "operation_metrics" and "(crawl_id" in row[2] for row in indexes)
