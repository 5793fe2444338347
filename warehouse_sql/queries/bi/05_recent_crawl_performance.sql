-- 5. Recent crawl performance
SELECT crawl_id, status, total_pages,
       ROUND(duration_ms / 1000.0, 2) as duration_sec,
       ROUND(total_embedding_ms / 1000.0, 2) as embedding_sec,
       ROUND(total_qdrant_ms / 1000.0, 2) as qdrant_sec
FROM webhook.crawl_sessions
WHERE status = 'completed'
ORDER BY started_at DESC
LIMIT 10;
