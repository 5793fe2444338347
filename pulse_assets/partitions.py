"""The crawl partitions: one dynamic partition per Firecrawl crawl id."""

from dagster import DynamicPartitionsDefinition

CRAWL_PARTITIONS_NAME = "crawl_id"

crawl_partitions = DynamicPartitionsDefinition(name=CRAWL_PARTITIONS_NAME)
