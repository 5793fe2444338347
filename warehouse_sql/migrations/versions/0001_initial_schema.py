"""Create the webhook schema: staging, pages, chunks, BM25 indexes, sessions and metrics.

Revision ID: 0001
Revises:
Create Date: 2026-12-04

Millisecond columns are `numeric(14, 2)`, not `double precision`: PostgreSQL has
`round(numeric, integer)` but no `round(double precision, integer)`, and the BI queries round
durations and their ratios to two places.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "webhook"
MS = sa.Numeric(14, 2)
NOW = sa.text("now()")
EMPTY_JSON = sa.text("'{}'::jsonb")


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    # A cast that returns NULL instead of failing, so one bad `initiated_at` in a crawl's user
    # metadata cannot fail the set-based refresh of every crawl. A time without an offset is
    # read as UTC, whatever the server's time zone.
    op.execute(
        f"""
        CREATE FUNCTION {SCHEMA}.try_timestamptz(value text) RETURNS timestamptz
        LANGUAGE plpgsql STABLE SET timezone = 'UTC' AS $$
        BEGIN
            RETURN value::timestamptz;
        EXCEPTION WHEN others THEN
            RETURN NULL;
        END;
        $$
        """
    )

    op.create_table(
        "staged_deliveries",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        # The body exactly as received; everything below is derived from it.
        sa.Column("raw_body", sa.LargeBinary, nullable=False),
        sa.Column("body_sha256", sa.Text, nullable=False),
        sa.Column("payload", postgresql.JSONB, nullable=True),
        sa.Column("crawl_id", sa.Text, nullable=True),
        sa.Column("event_type", sa.Text, nullable=True),
        sa.Column("webhook_id", sa.Text, nullable=True),
        sa.Column("dedupe_key", sa.Text, nullable=False),
        sa.Column("signature_verified", sa.Boolean, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("parse_error", sa.Text, nullable=True),
        sa.CheckConstraint("status IN ('accepted', 'rejected')", name="staged_deliveries_status"),
        sa.UniqueConstraint("dedupe_key", name="staged_deliveries_dedupe_key"),
        schema=SCHEMA,
    )
    op.create_index(
        "staged_deliveries_crawl_id", "staged_deliveries", ["crawl_id", "id"], schema=SCHEMA
    )

    op.create_table(
        "crawl_sessions",
        sa.Column("crawl_id", sa.Text, primary_key=True),
        sa.Column("crawl_url", sa.Text, nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.Text, nullable=False, server_default="in_progress"),
        sa.Column("success", sa.Boolean, nullable=True),
        sa.Column("total_pages", sa.Integer, nullable=False, server_default="0"),
        sa.Column("pages_indexed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("pages_failed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("total_chunking_ms", MS, nullable=False, server_default="0"),
        sa.Column("total_embedding_ms", MS, nullable=False, server_default="0"),
        sa.Column("total_qdrant_ms", MS, nullable=False, server_default="0"),
        sa.Column("total_bm25_ms", MS, nullable=False, server_default="0"),
        sa.Column("duration_ms", MS, nullable=True),
        sa.Column("initiated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("e2e_duration_ms", MS, nullable=True),
        sa.Column("extra_metadata", postgresql.JSONB, nullable=False, server_default=EMPTY_JSON),
        sa.Column("error_message", sa.Text, nullable=True),
        # The highest staging id that the pages asset has read for this crawl; the refresh
        # reads deliveries up to it, so the row never counts a delivery that no page reflects.
        sa.Column("staged_through_id", sa.BigInteger, nullable=True),
        # The highest staging id whose delivery this row reflects.
        sa.Column("last_delivery_id", sa.BigInteger, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.CheckConstraint(
            "status IN ('in_progress', 'completed', 'cancelled', 'failed')",
            name="crawl_sessions_status",
        ),
        schema=SCHEMA,
    )
    op.create_index("crawl_sessions_started_at", "crawl_sessions", ["started_at"], schema=SCHEMA)

    op.create_table(
        "operation_metrics",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column(
            "crawl_id",
            sa.Text,
            sa.ForeignKey(f"{SCHEMA}.crawl_sessions.crawl_id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("operation_type", sa.Text, nullable=False),
        sa.Column("operation_name", sa.Text, nullable=False),
        sa.Column("duration_ms", MS, nullable=False),
        sa.Column("success", sa.Boolean, nullable=False),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("document_url", sa.Text, nullable=True),
        sa.Column("run_id", sa.Text, nullable=True),
        sa.Column("extra_metadata", postgresql.JSONB, nullable=False, server_default=EMPTY_JSON),
        schema=SCHEMA,
    )
    op.create_index(
        "operation_metrics_crawl_id", "operation_metrics", ["crawl_id", "timestamp"], schema=SCHEMA
    )

    op.create_table(
        "pages",
        sa.Column("crawl_id", sa.Text, primary_key=True),
        sa.Column("url", sa.Text, primary_key=True),
        sa.Column("staging_id", sa.BigInteger, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("title", sa.Text, nullable=True),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("scrape_success", sa.Boolean, nullable=False),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("markdown", sa.Text, nullable=False, server_default=""),
        sa.Column("content_hash", sa.Text, nullable=False),
        # The content hash that the page's current chunks were cut from.
        sa.Column("chunked_hash", sa.Text, nullable=True),
        sa.Column("index_status", sa.Text, nullable=False, server_default="pending"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.CheckConstraint(
            "index_status IN ('pending', 'indexed', 'failed')", name="pages_index_status"
        ),
        schema=SCHEMA,
    )

    op.create_table(
        "chunks",
        sa.Column("crawl_id", sa.Text, primary_key=True),
        sa.Column("url", sa.Text, primary_key=True),
        sa.Column("chunk_index", sa.Integer, primary_key=True),
        sa.Column("point_id", postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("token_count", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.Text, nullable=False),
        # The content hash and model of the vector in Qdrant; NULL until it is upserted.
        sa.Column("embedded_hash", sa.Text, nullable=True),
        sa.Column("embedding_model", sa.Text, nullable=True),
        sa.ForeignKeyConstraint(
            ["crawl_id", "url"],
            [f"{SCHEMA}.pages.crawl_id", f"{SCHEMA}.pages.url"],
            ondelete="CASCADE",
            name="chunks_page",
        ),
        sa.UniqueConstraint("point_id", name="chunks_point_id"),
        schema=SCHEMA,
    )

    op.create_table(
        "bm25_indexes",
        sa.Column("crawl_id", sa.Text, primary_key=True),
        sa.Column("chunk_count", sa.Integer, nullable=False),
        sa.Column("tokenizer", sa.Text, nullable=False),
        # gzip-compressed JSON: the point ids and token lists the BM25 model is built from.
        sa.Column("corpus", sa.LargeBinary, nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in (
        "bm25_indexes",
        "chunks",
        "pages",
        "operation_metrics",
        "crawl_sessions",
        "staged_deliveries",
    ):
        op.drop_table(table, schema=SCHEMA)
    op.execute(f"DROP FUNCTION {SCHEMA}.try_timestamptz(text)")
    op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA}")
