-- Rebuild the crawl_sessions rows of the crawls in :crawl_ids (a JSON array of crawl ids) in
-- one set-based statement. The ids come as one JSON value rather than an array parameter,
-- because psycopg2 sends a list as ARRAY[...] with one constant per id, which PostgreSQL takes
-- seconds to parse for ten thousand ids.
--
-- Event columns come from the accepted staged deliveries up to the crawl's staged_through_id
-- (the highest staging id that the pages asset has read), page counts from webhook.pages, and
-- timing totals from webhook.operation_metrics. Running it twice gives the same row: the
-- update is skipped when nothing changed, so updated_at moves only with the data.
WITH target AS (
    SELECT DISTINCT t.crawl_id, cs.staged_through_id
    FROM jsonb_array_elements_text(CAST(:crawl_ids AS jsonb)) AS t(crawl_id)
    LEFT JOIN webhook.crawl_sessions AS cs ON cs.crawl_id = t.crawl_id
),
deliveries AS (
    SELECT d.*
    FROM webhook.staged_deliveries AS d
    JOIN target AS t ON t.crawl_id = d.crawl_id
    WHERE d.status = 'accepted'
      AND d.id <= COALESCE(t.staged_through_id, 0)
),
events AS (
    SELECT
        crawl_id,
        MIN(received_at) AS started_at,
        MAX(id) AS last_delivery_id,
        COUNT(*) AS delivery_count
    FROM deliveries
    GROUP BY crawl_id
),
terminal AS (
    -- The first terminal delivery decides the status; a page after it changes only counts.
    SELECT DISTINCT ON (crawl_id)
        crawl_id,
        received_at AS completed_at,
        CASE
            WHEN event_type IN ('crawl.completed', 'batch_scrape.completed') THEN 'completed'
            WHEN event_type = 'crawl.cancelled' THEN 'cancelled'
            ELSE 'failed'
        END AS status,
        CASE WHEN event_type = 'crawl.failed' THEN payload ->> 'error' END AS error_message
    FROM deliveries
    WHERE event_type IN (
        'crawl.completed', 'batch_scrape.completed', 'crawl.cancelled', 'crawl.failed'
    )
    ORDER BY crawl_id, id
),
user_metadata AS (
    SELECT DISTINCT ON (crawl_id) crawl_id, payload -> 'metadata' AS metadata
    FROM deliveries
    WHERE jsonb_typeof(payload -> 'metadata') = 'object'
    ORDER BY crawl_id, id
),
page_counts AS (
    SELECT
        p.crawl_id,
        COUNT(*) AS total_pages,
        COUNT(*) FILTER (WHERE p.index_status = 'indexed') AS pages_indexed,
        COUNT(*) FILTER (WHERE p.index_status = 'failed') AS pages_failed,
        (ARRAY_AGG(p.url ORDER BY length(p.url), p.url))[1] AS shortest_url
    FROM webhook.pages AS p
    JOIN target AS t ON t.crawl_id = p.crawl_id
    GROUP BY p.crawl_id
),
timing AS (
    SELECT
        m.crawl_id,
        COALESCE(SUM(m.duration_ms) FILTER (WHERE m.operation_type = 'chunking'), 0)
            AS total_chunking_ms,
        COALESCE(SUM(m.duration_ms) FILTER (WHERE m.operation_type = 'embedding'), 0)
            AS total_embedding_ms,
        COALESCE(SUM(m.duration_ms) FILTER (WHERE m.operation_type = 'qdrant'), 0)
            AS total_qdrant_ms,
        COALESCE(SUM(m.duration_ms) FILTER (WHERE m.operation_type = 'bm25'), 0)
            AS total_bm25_ms
    FROM webhook.operation_metrics AS m
    -- A semi-join: the metric rows are probed against the target ids, never hashed themselves.
    WHERE m.crawl_id IN (SELECT crawl_id FROM target)
    GROUP BY m.crawl_id
),
computed AS (
    SELECT
        t.crawl_id,
        COALESCE(
            um.metadata ->> 'crawl_url', um.metadata ->> 'url', pc.shortest_url
        ) AS crawl_url,
        e.started_at,
        tm.completed_at,
        COALESCE(tm.status, 'in_progress') AS status,
        CASE WHEN tm.status IS NULL THEN NULL ELSE tm.status = 'completed' END AS success,
        COALESCE(pc.total_pages, 0) AS total_pages,
        COALESCE(pc.pages_indexed, 0) AS pages_indexed,
        COALESCE(pc.pages_failed, 0) AS pages_failed,
        COALESCE(ti.total_chunking_ms, 0) AS total_chunking_ms,
        COALESCE(ti.total_embedding_ms, 0) AS total_embedding_ms,
        COALESCE(ti.total_qdrant_ms, 0) AS total_qdrant_ms,
        COALESCE(ti.total_bm25_ms, 0) AS total_bm25_ms,
        CAST(EXTRACT(EPOCH FROM tm.completed_at - e.started_at) * 1000 AS numeric(14, 2))
            AS duration_ms,
        webhook.try_timestamptz(um.metadata ->> 'initiated_at') AS initiated_at,
        jsonb_build_object(
            'user_metadata', COALESCE(um.metadata, '{}'::jsonb),
            'deliveries', COALESCE(e.delivery_count, 0)
        ) AS extra_metadata,
        tm.error_message,
        e.last_delivery_id
    FROM target AS t
    LEFT JOIN events AS e ON e.crawl_id = t.crawl_id
    LEFT JOIN terminal AS tm ON tm.crawl_id = t.crawl_id
    LEFT JOIN user_metadata AS um ON um.crawl_id = t.crawl_id
    LEFT JOIN page_counts AS pc ON pc.crawl_id = t.crawl_id
    LEFT JOIN timing AS ti ON ti.crawl_id = t.crawl_id
)
INSERT INTO webhook.crawl_sessions AS cs (
    crawl_id, crawl_url, started_at, completed_at, status, success,
    total_pages, pages_indexed, pages_failed,
    total_chunking_ms, total_embedding_ms, total_qdrant_ms, total_bm25_ms,
    duration_ms, initiated_at, e2e_duration_ms, extra_metadata, error_message, last_delivery_id
)
SELECT
    crawl_id, crawl_url, started_at, completed_at, status, success,
    total_pages, pages_indexed, pages_failed,
    total_chunking_ms, total_embedding_ms, total_qdrant_ms, total_bm25_ms,
    duration_ms, initiated_at,
    CAST(EXTRACT(EPOCH FROM completed_at - initiated_at) * 1000 AS numeric(14, 2)),
    extra_metadata, error_message, last_delivery_id
FROM computed
ON CONFLICT (crawl_id) DO UPDATE SET
    crawl_url = EXCLUDED.crawl_url,
    started_at = EXCLUDED.started_at,
    completed_at = EXCLUDED.completed_at,
    status = EXCLUDED.status,
    success = EXCLUDED.success,
    total_pages = EXCLUDED.total_pages,
    pages_indexed = EXCLUDED.pages_indexed,
    pages_failed = EXCLUDED.pages_failed,
    total_chunking_ms = EXCLUDED.total_chunking_ms,
    total_embedding_ms = EXCLUDED.total_embedding_ms,
    total_qdrant_ms = EXCLUDED.total_qdrant_ms,
    total_bm25_ms = EXCLUDED.total_bm25_ms,
    duration_ms = EXCLUDED.duration_ms,
    initiated_at = EXCLUDED.initiated_at,
    e2e_duration_ms = EXCLUDED.e2e_duration_ms,
    extra_metadata = EXCLUDED.extra_metadata,
    error_message = EXCLUDED.error_message,
    last_delivery_id = EXCLUDED.last_delivery_id,
    updated_at = now()
WHERE (
    cs.crawl_url, cs.started_at, cs.completed_at, cs.status, cs.success,
    cs.total_pages, cs.pages_indexed, cs.pages_failed,
    cs.total_chunking_ms, cs.total_embedding_ms, cs.total_qdrant_ms, cs.total_bm25_ms,
    cs.duration_ms, cs.initiated_at, cs.e2e_duration_ms, cs.extra_metadata, cs.error_message,
    cs.last_delivery_id
) IS DISTINCT FROM (
    EXCLUDED.crawl_url, EXCLUDED.started_at, EXCLUDED.completed_at, EXCLUDED.status,
    EXCLUDED.success, EXCLUDED.total_pages, EXCLUDED.pages_indexed, EXCLUDED.pages_failed,
    EXCLUDED.total_chunking_ms, EXCLUDED.total_embedding_ms, EXCLUDED.total_qdrant_ms,
    EXCLUDED.total_bm25_ms, EXCLUDED.duration_ms, EXCLUDED.initiated_at,
    EXCLUDED.e2e_duration_ms, EXCLUDED.extra_metadata, EXCLUDED.error_message,
    EXCLUDED.last_delivery_id
)
