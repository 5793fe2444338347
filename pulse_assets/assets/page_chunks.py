"""The `page_chunks` asset: markdown chunks of each page, sized by the model's tokenizer."""

import os
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset
from sqlalchemy import Connection, text

from pulse_assets.assets.crawl_pages import crawl_pages
from pulse_assets.indexing.chunking import Chunk, ChunkingResult, MarkdownChunker
from pulse_assets.indexing.text import content_hash
from pulse_assets.indexing.vector_store import point_id
from pulse_assets.metrics import MetricsRecorder
from pulse_assets.partitions import crawl_partitions
from pulse_assets.resources import EmbedderResource, WarehouseResource

WRITE_EVERY_PAGES = 50
# semantic-text-splitter and tokenizers release the GIL, so pages, and the parts of a long
# page, are split in parallel threads.
CHUNKING_THREADS = max(1, min(4, len(os.sched_getaffinity(0))))

SELECT_CHANGED_PAGES = text(
    """
    SELECT url, markdown, content_hash
    FROM webhook.pages
    WHERE crawl_id = :crawl_id AND scrape_success
      AND chunked_hash IS DISTINCT FROM content_hash
    ORDER BY url
    """
)

# The latest delivery of these pages failed, so they keep no chunks.
DROP_CHUNKS_OF_FAILED_PAGES = text(
    """
    WITH failed AS (
        UPDATE webhook.pages SET chunked_hash = NULL
        WHERE crawl_id = :crawl_id AND NOT scrape_success
        RETURNING url
    )
    DELETE FROM webhook.chunks AS c USING failed
    WHERE c.crawl_id = :crawl_id AND c.url = failed.url
    """
)

DELETE_EXTRA_CHUNKS = text(
    """
    DELETE FROM webhook.chunks
    WHERE crawl_id = :crawl_id AND url = :url AND chunk_index >= :chunk_count
    """
)

# An unchanged chunk keeps its embedded hash, so it is not embedded again.
UPSERT_CHUNK = text(
    """
    INSERT INTO webhook.chunks AS c (
        crawl_id, url, chunk_index, point_id, text, token_count, content_hash
    ) VALUES (
        :crawl_id, :url, :chunk_index, :point_id, :text, :token_count, :content_hash
    )
    ON CONFLICT (crawl_id, url, chunk_index) DO UPDATE SET
        text = EXCLUDED.text,
        token_count = EXCLUDED.token_count,
        content_hash = EXCLUDED.content_hash,
        embedded_hash = CASE
            WHEN c.content_hash = EXCLUDED.content_hash THEN c.embedded_hash
        END
    """
)

MARK_CHUNKED = text(
    """
    UPDATE webhook.pages SET chunked_hash = :content_hash, index_status = 'pending'
    WHERE crawl_id = :crawl_id AND url = :url
    """
)


def write_page_chunks(
    connection: Connection, crawl_id: str, chunked: list[tuple[str, str, list[Chunk]]]
) -> None:
    """Replace the chunks of each (url, content hash, chunks) and mark the page chunked."""
    for url, page_hash, chunks in chunked:
        connection.execute(
            DELETE_EXTRA_CHUNKS, {"crawl_id": crawl_id, "url": url, "chunk_count": len(chunks)}
        )
        if chunks:
            connection.execute(
                UPSERT_CHUNK,
                [
                    {
                        "crawl_id": crawl_id,
                        "url": url,
                        "chunk_index": chunk.index,
                        "point_id": point_id(crawl_id, url, chunk.index),
                        "text": chunk.text,
                        "token_count": chunk.token_count,
                        "content_hash": content_hash(chunk.text),
                    }
                    for chunk in chunks
                ],
            )
        connection.execute(
            MARK_CHUNKED, {"crawl_id": crawl_id, "url": url, "content_hash": page_hash}
        )


def timed_chunk(
    chunker: MarkdownChunker, part: str
) -> tuple[ChunkingResult | None, float, Exception | None]:
    """Chunk one page part and return the result or the error, with the milliseconds it took."""
    started = time.perf_counter()
    try:
        result, error = chunker.chunk_part(part), None
    except Exception as raised:  # noqa: BLE001 - recorded as a failed row, then raised
        result, error = None, raised
    return result, (time.perf_counter() - started) * 1000, error


def chunk_pages(
    chunker: MarkdownChunker, markdowns: list[str], threads: int = CHUNKING_THREADS
) -> list[tuple[ChunkingResult | None, float, Exception | None]]:
    """Chunk each page in parallel threads, part by part, and return one result per page.

    A page's time is the sum of its parts' times, and its error the first error of a part.
    """
    parts = [
        (number, part)
        for number, markdown in enumerate(markdowns)
        for part in chunker.parts(markdown)
    ]
    with ThreadPoolExecutor(threads, thread_name_prefix="chunking") as executor:
        timed = list(executor.map(partial(timed_chunk, chunker), [part for _, part in parts]))
    results: list[list[ChunkingResult]] = [[] for _ in markdowns]
    elapsed_ms = [0.0] * len(markdowns)
    errors: list[Exception | None] = [None] * len(markdowns)
    for (number, _part), (result, part_ms, error) in zip(parts, timed, strict=True):
        elapsed_ms[number] += part_ms
        if result is not None:
            results[number].append(result)
        errors[number] = errors[number] or error
    return [
        (None if error else ChunkingResult.join(page_results), page_ms, error)
        for page_results, page_ms, error in zip(results, elapsed_ms, errors, strict=True)
    ]


@asset(
    partitions_def=crawl_partitions,
    deps=[crawl_pages],
    group_name="indexing",
    kinds={"python", "postgres"},
    description="Markdown-aware chunks of each changed page, no larger than the model's limit.",
)
def page_chunks(
    context: AssetExecutionContext, warehouse: WarehouseResource, embedder: EmbedderResource
) -> MaterializeResult:
    crawl_id = context.partition_key
    engine = warehouse.engine()
    recorder = MetricsRecorder(engine, crawl_id, context.run.run_id, warehouse.record_metrics)
    model = embedder.load()
    chunker = MarkdownChunker(model.splitter_tokenizer(), model.max_tokens, model.special_tokens)

    chunk_count = token_count = truncated = 0
    with recorder.timed("step", "page_chunks") as step:
        with engine.begin() as connection:
            connection.execute(DROP_CHUNKS_OF_FAILED_PAGES, {"crawl_id": crawl_id})
            pages = connection.execute(SELECT_CHANGED_PAGES, {"crawl_id": crawl_id}).all()

        pending: list[tuple[str, str, list[Chunk]]] = []
        results = chunk_pages(chunker, [page.markdown for page in pages])
        for page, (result, elapsed_ms, error) in zip(pages, results, strict=True):
            if error is not None or result is None:
                recorder.record(
                    "chunking",
                    "markdown_split",
                    elapsed_ms,
                    success=False,
                    error_message=f"{type(error).__name__}: {error}",
                    document_url=page.url,
                )
                recorder.flush()
                raise error or RuntimeError(f"chunking page {page.url} returned no result")
            tokens = sum(chunk.token_count for chunk in result.chunks)
            recorder.record(
                "chunking",
                "markdown_split",
                elapsed_ms,
                document_url=page.url,
                metadata={
                    "chunks": len(result.chunks),
                    "tokens": tokens,
                    "truncated": result.truncated,
                },
            )
            chunk_count += len(result.chunks)
            token_count += tokens
            truncated += result.truncated
            pending.append((page.url, page.content_hash, result.chunks))
            if len(pending) >= WRITE_EVERY_PAGES:
                with engine.begin() as connection:
                    write_page_chunks(connection, crawl_id, pending)
                pending = []
        with engine.begin() as connection:
            write_page_chunks(connection, crawl_id, pending)
        step.metadata.update(pages=len(pages), chunks=chunk_count, tokens=token_count)
    recorder.flush()

    if truncated:
        context.log.warning("Crawl %s: %d chunks were cut to fit the model", crawl_id, truncated)
    context.log.info(
        "Crawl %s: chunked %d changed pages into %d chunks (%d tokens)",
        crawl_id,
        len(pages),
        chunk_count,
        token_count,
    )
    return MaterializeResult(
        metadata={
            "pages_chunked": len(pages),
            "chunks": chunk_count,
            "tokens": token_count,
            "chunks_truncated": truncated,
            "chunking_ms": MetadataValue.float(recorder.totals_ms.get("chunking", 0.0)),
        }
    )
