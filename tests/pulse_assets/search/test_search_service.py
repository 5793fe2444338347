"""`search` on crawls indexed by the real pipeline: real Qdrant local mode, model and warehouse."""

from __future__ import annotations

import uuid
from typing import Any

from search_topics import (
    CHESS_PAGE,
    CHESS_URL,
    SOURDOUGH_URL,
    VOLCANO_QUERY,
    VOLCANO_URL,
    index_pages,
)
from sqlalchemy import text

from pulse_assets.indexing.embedding import Embedder
from pulse_assets.search.hybrid import STATUS_OK, Mode, rank_candidates
from pulse_assets.search.service import resolve_hits, retrieve_candidates, search
from pulse_assets.search.stored import Bm25IndexCache, fetch_chunks


def run_search(pipeline: Any, embedder: Embedder, open_store: Any, query: str, **options: Any):  # type: ignore[no-untyped-def]
    options.setdefault("crawl_id", None)
    return search(
        query, engine=pipeline.engine, embedder=embedder, open_store=open_store, **options
    )


def test_topic_page_ranks_first(pipeline, topic_crawl: str, embedder, open_store) -> None:  # type: ignore[no-untyped-def]
    candidates = retrieve_candidates(
        VOLCANO_QUERY,
        crawl_id=topic_crawl,
        depth=50,
        engine=pipeline.engine,
        embedder=embedder,
        open_store=open_store,
        bm25_cache=Bm25IndexCache(),
    )
    first_urls = {}
    for mode in Mode:
        fused = rank_candidates(candidates, mode)
        first_urls[mode] = resolve_hits(pipeline.engine, fused, candidates.payloads, 1)[0].url

    assert first_urls[Mode.DENSE] == VOLCANO_URL
    assert first_urls[Mode.BM25] == VOLCANO_URL
    assert first_urls[Mode.HYBRID] == VOLCANO_URL


def test_search_returns_topic_hits(pipeline, topic_crawl: str, embedder, open_store) -> None:  # type: ignore[no-untyped-def]
    results = run_search(pipeline, embedder, open_store, VOLCANO_QUERY, crawl_id=topic_crawl)

    assert results.dense == STATUS_OK
    assert results.bm25 == STATUS_OK
    assert results.hits[0].url == VOLCANO_URL
    assert results.hits[0].title == "Eruption stage 1"
    assert "magma" in results.hits[0].text
    assert results.hits[0].crawl_id == topic_crawl
    assert results.hits[0].dense_rank is not None
    assert results.hits[0].bm25_rank is not None


def test_search_dedupes_by_url(pipeline, topic_crawl: str, embedder, open_store) -> None:  # type: ignore[no-untyped-def]
    candidates = retrieve_candidates(
        VOLCANO_QUERY,
        crawl_id=topic_crawl,
        depth=50,
        engine=pipeline.engine,
        embedder=embedder,
        open_store=open_store,
        bm25_cache=Bm25IndexCache(),
    )
    fused = rank_candidates(candidates)
    rows = fetch_chunks(pipeline.engine, [item.item_id for item in fused])
    volcano_chunks = [rows[item.item_id] for item in fused if rows[item.item_id].url == VOLCANO_URL]

    results = run_search(pipeline, embedder, open_store, VOLCANO_QUERY, crawl_id=topic_crawl)
    urls = [hit.url for hit in results.hits]

    assert len(volcano_chunks) > 1
    assert len(urls) == len(set(urls))
    assert urls.count(VOLCANO_URL) == 1
    assert results.hits[0].chunk_index == volcano_chunks[0].chunk_index


def test_search_cuts_to_limit(pipeline, topic_crawl: str, embedder, open_store) -> None:  # type: ignore[no-untyped-def]
    results = run_search(
        pipeline, embedder, open_store, "bread chess lava", crawl_id=topic_crawl, limit=2
    )

    assert len(results.hits) == 2


def test_search_all_crawls(pipeline, topic_crawl: str, embedder, open_store) -> None:  # type: ignore[no-untyped-def]
    other_crawl = str(uuid.uuid4())
    index_pages(pipeline, other_crawl, {"https://other.example/chess": CHESS_PAGE})

    scoped = run_search(pipeline, embedder, open_store, "Sicilian Defence", crawl_id=other_crawl)
    everywhere = run_search(pipeline, embedder, open_store, "Sicilian Defence")

    assert {hit.url for hit in scoped.hits} == {"https://other.example/chess"}
    assert {hit.crawl_id for hit in everywhere.hits} == {topic_crawl, other_crawl}
    assert CHESS_URL in {hit.url for hit in everywhere.hits}


def test_failed_page_crawl_returns_nothing(pipeline, crawl_id: str, embedder, open_store) -> None:  # type: ignore[no-untyped-def]
    failed = {
        "success": False,
        "type": "crawl.page",
        "id": crawl_id,
        "webhookId": "wh-failed",
        "error": "Request timed out",
        "data": [{"metadata": {"sourceURL": SOURDOUGH_URL}}],
    }
    assert pipeline.deliver(failed) == 200
    assert [result.success for result in pipeline.tick_and_run()] == [True]

    results = run_search(pipeline, embedder, open_store, "sourdough", crawl_id=crawl_id)

    assert results.hits == []
    assert results.dense == STATUS_OK


def test_unknown_crawl_returns_nothing(pipeline, topic_crawl: str, embedder, open_store) -> None:  # type: ignore[no-untyped-def]
    results = run_search(pipeline, embedder, open_store, VOLCANO_QUERY, crawl_id="no-such-crawl")

    assert results.hits == []


def test_rebuilt_index_is_reloaded(pipeline, topic_crawl: str, embedder, open_store) -> None:  # type: ignore[no-untyped-def]
    cache = Bm25IndexCache()
    before = cache.load(pipeline.engine, topic_crawl).indexes[topic_crawl]
    with pipeline.engine.begin() as connection:
        connection.execute(
            text("UPDATE webhook.bm25_indexes SET built_at = now() + interval '1 s'")
        )

    again = cache.load(pipeline.engine, topic_crawl).indexes[topic_crawl]

    assert again is not before
    assert again.point_ids == before.point_ids
