-- 2. Embedding vs Qdrant timing comparison
SELECT crawl_id, total_embedding_ms, total_qdrant_ms,
       ROUND((total_embedding_ms / total_qdrant_ms) * 100, 2) as embedding_pct
FROM webhook.crawl_sessions
WHERE crawl_id = :crawl_id;
