"""Add the BI views `webhook.crawl_performance` and `webhook.operation_summary`.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04

No division in these views can fail. Each one divides either by the constant 1000.0 or by
`NULLIF(denominator, 0)`, which is NULL when the denominator is zero, and a numeric divided by
NULL is NULL. A crawl with no indexed page or no step time therefore gets NULL in those ratios
instead of raising `division by zero`. The view SQL is written out here, not read from a file,
so that a later change to a shared file cannot change what this revision creates.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = "webhook"

# Per-page averages are in ms per indexed page, because failed pages are never chunked or
# embedded. The shares are percents of the sum of the four step totals, so they add up to 100
# up to the rounding of each share to two places. The crawl_sessions columns are listed rather
# than selected with `*`, because a view depends on every column it names, and PostgreSQL
# rejects dropping such a column while the view exists.
CRAWL_PERFORMANCE = f"""
CREATE VIEW {SCHEMA}.crawl_performance AS
WITH totals AS (
    SELECT
        crawl_id, crawl_url, status, success, initiated_at, started_at, completed_at,
        total_pages, pages_indexed, pages_failed, duration_ms, e2e_duration_ms,
        total_chunking_ms, total_embedding_ms, total_qdrant_ms, total_bm25_ms,
        total_chunking_ms + total_embedding_ms + total_qdrant_ms + total_bm25_ms
            AS total_step_ms
    FROM {SCHEMA}.crawl_sessions
)
SELECT
    crawl_id,
    crawl_url,
    status,
    success,
    initiated_at,
    started_at,
    completed_at,
    total_pages,
    pages_indexed,
    pages_failed,
    duration_ms,
    ROUND(duration_ms / 1000.0, 2) AS duration_sec,
    e2e_duration_ms,
    ROUND(e2e_duration_ms / 1000.0, 2) AS e2e_duration_sec,
    total_chunking_ms,
    total_embedding_ms,
    total_qdrant_ms,
    total_bm25_ms,
    total_step_ms,
    ROUND(total_chunking_ms / NULLIF(pages_indexed, 0), 2) AS chunking_ms_per_page,
    ROUND(total_embedding_ms / NULLIF(pages_indexed, 0), 2) AS embedding_ms_per_page,
    ROUND(total_qdrant_ms / NULLIF(pages_indexed, 0), 2) AS qdrant_ms_per_page,
    ROUND(total_bm25_ms / NULLIF(pages_indexed, 0), 2) AS bm25_ms_per_page,
    ROUND(100 * total_chunking_ms / NULLIF(total_step_ms, 0), 2) AS chunking_share_pct,
    ROUND(100 * total_embedding_ms / NULLIF(total_step_ms, 0), 2) AS embedding_share_pct,
    ROUND(100 * total_qdrant_ms / NULLIF(total_step_ms, 0), 2) AS qdrant_share_pct,
    ROUND(100 * total_bm25_ms / NULLIF(total_step_ms, 0), 2) AS bm25_share_pct
FROM totals
"""

# percentile_cont interpolates linearly between the two nearest rows and works in double
# precision, so p50_ms and p95_ms are cast back to numeric to round them. Rows whose crawl was
# deleted have a NULL crawl_id (the foreign key is ON DELETE SET NULL), so they are summarized
# under a NULL crawl_id, per operation type and name.
OPERATION_SUMMARY = f"""
CREATE VIEW {SCHEMA}.operation_summary AS
SELECT
    crawl_id,
    operation_type,
    operation_name,
    COUNT(*) AS operation_count,
    COUNT(*) FILTER (WHERE NOT success) AS failure_count,
    SUM(duration_ms) AS total_ms,
    ROUND(AVG(duration_ms), 2) AS avg_ms,
    ROUND(CAST(percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS numeric), 2)
        AS p50_ms,
    ROUND(CAST(percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS numeric), 2)
        AS p95_ms,
    MAX(duration_ms) AS max_ms
FROM {SCHEMA}.operation_metrics
GROUP BY crawl_id, operation_type, operation_name
"""

VIEW_COMMENTS = {
    "crawl_performance": (
        "One row per crawl: status, page counts, durations in ms and s, per-page averages "
        "of each step in ms per indexed page, and each step's percent of the four steps' "
        "total time. Ratios without a denominator are NULL."
    ),
    "operation_summary": (
        "operation_metrics per crawl, operation type and name: count, failures, and "
        "total, average, p50, p95 and max duration in ms."
    ),
}


def upgrade() -> None:
    op.execute(CRAWL_PERFORMANCE)
    op.execute(OPERATION_SUMMARY)
    for view, comment in VIEW_COMMENTS.items():
        # A comment is a literal in COMMENT ON, which takes no bound parameter.
        quoted = comment.replace("'", "''")
        op.execute(f"COMMENT ON VIEW {SCHEMA}.{view} IS '{quoted}'")


def downgrade() -> None:
    op.execute(f"DROP VIEW {SCHEMA}.operation_summary")
    op.execute(f"DROP VIEW {SCHEMA}.crawl_performance")
