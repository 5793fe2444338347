-- 1. Total crawl duration
SELECT crawl_id, duration_ms, e2e_duration_ms
FROM webhook.crawl_sessions
WHERE crawl_id = :crawl_id;
