-- 3. Average time per page
SELECT crawl_id, total_pages,
       ROUND(duration_ms / NULLIF(total_pages, 0), 2) as avg_ms_per_page
FROM webhook.crawl_sessions
WHERE crawl_id = :crawl_id;
