"""Partitioned assets that turn a crawl's staged deliveries into an index and its metrics."""
