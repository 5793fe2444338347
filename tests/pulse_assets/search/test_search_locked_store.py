"""Search while another process locks the Qdrant local storage folder: BM25 hits alone."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from search_topics import VOLCANO_QUERY, VOLCANO_URL

from pulse_assets.search.service import search

# Opens the folder, reports that it holds the lock, and keeps it until its stdin closes.
HOLD_FOLDER = """
import sys
from qdrant_client import QdrantClient
client = QdrantClient(path=sys.argv[1])
print("holding", flush=True)
sys.stdin.read()
client.close()
"""


@contextmanager
def folder_held_by_subprocess(path: Path) -> Iterator[None]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_FOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)


def test_locked_folder_answers_bm25(
    pipeline, topic_crawl: str, embedder, open_store, qdrant_path
) -> None:  # type: ignore[no-untyped-def]
    with folder_held_by_subprocess(qdrant_path):
        results = search(
            VOLCANO_QUERY,
            crawl_id=topic_crawl,
            engine=pipeline.engine,
            embedder=embedder,
            open_store=open_store,
        )

    assert results.dense.startswith("unavailable: ")
    assert "locked by another process" in results.dense
    assert results.bm25 == "ok"
    assert results.hits[0].url == VOLCANO_URL
    assert all(hit.dense_rank is None for hit in results.hits)
    assert all(hit.bm25_rank is not None for hit in results.hits)


def test_store_usable_after_release(
    pipeline, topic_crawl: str, embedder, open_store, qdrant_path
) -> None:  # type: ignore[no-untyped-def]
    with folder_held_by_subprocess(qdrant_path):
        search(
            VOLCANO_QUERY,
            crawl_id=topic_crawl,
            engine=pipeline.engine,
            embedder=embedder,
            open_store=open_store,
        )

    results = search(
        VOLCANO_QUERY,
        crawl_id=topic_crawl,
        engine=pipeline.engine,
        embedder=embedder,
        open_store=open_store,
    )

    assert results.dense == "ok"
    assert results.hits[0].dense_rank is not None
