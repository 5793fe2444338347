-- 4. All operations for a crawl (using FK relationship)
SELECT operation_type, operation_name,
       COUNT(*) as count,
       SUM(duration_ms) as total_ms
FROM webhook.operation_metrics
WHERE crawl_id = :crawl_id
GROUP BY operation_type, operation_name
ORDER BY total_ms DESC;
