from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import models

from pulse_assets.indexing.chunking import Chunk
from pulse_assets.indexing.embedding import Embedder
from pulse_assets.indexing.points import (
    POINT_ID_NAMESPACE,
    chunk_key,
    chunk_payload,
    estimate_request_bytes,
)
from pulse_assets.indexing.vector_store import (
    CollectionMismatchError,
    PointRecord,
    VectorStore,
    VectorStoreLockedError,
    plan_batches,
    point_id,
)

COLLECTION = "pulse_chunks"
MODEL = "pulse/all-MiniLM-L6-v2-int8"
DIM = 384
CHUNK_CHARS = 1000
PAGE_BYTES = 12 * 1024 * 1024
LOCKED_EXIT_CODE = 3

OPEN_SCRIPT = """
import logging
import sys
from pathlib import Path

from pulse_assets.indexing.vector_store import VectorStore, VectorStoreLockedError

logging.basicConfig(level=logging.INFO, stream=sys.stderr)
path, timeout = Path(sys.argv[1]), float(sys.argv[2])
try:
    store = VectorStore.open(
        url=None, path=path, api_key=None, collection="pulse_chunks", lock_timeout_s=timeout
    )
except VectorStoreLockedError as error:
    sys.stdout.write(str(error))
    sys.exit(3)
store.ensure_collection(384, "pulse/all-MiniLM-L6-v2-int8")
store.close()
"""


def random_vectors(count: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def make_points(crawl_id: str, texts: list[str], vectors: np.ndarray) -> list[PointRecord]:
    url = "https://fastapi.tiangolo.com/tutorial/path-params/"
    points = []
    for index, (text, vector) in enumerate(zip(texts, vectors, strict=True)):
        chunk = Chunk(index=index, text=text, token_count=len(text.split()))
        payload = chunk_payload(crawl_id, url, "Path Parameters", chunk)
        points.append(PointRecord(point_id(crawl_id, url, index), vector, payload))
    return points


def run_open_script(path: Path, timeout_s: float) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", OPEN_SCRIPT, str(path), str(timeout_s)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "qdrant"


@pytest.fixture
def store(store_path: Path) -> Iterator[VectorStore]:
    with VectorStore.open(url=None, path=store_path, api_key=None, collection=COLLECTION) as opened:
        opened.ensure_collection(DIM, MODEL)
        yield opened


@pytest.fixture(scope="module")
def page_points() -> list[PointRecord]:
    """Return the points of one 12 MB page: 12,583 chunks of 1,000 characters each."""
    chunk_text = ("Größe " + "path parameter " * 70)[:CHUNK_CHARS]
    count = PAGE_BYTES // CHUNK_CHARS
    return make_points("crawl-big", [chunk_text] * count, random_vectors(count))


def test_point_id_is_uuid5() -> None:
    expected = uuid.uuid5(POINT_ID_NAMESPACE, "crawl-1\nhttps://example.test/a\n3")
    assert point_id("crawl-1", "https://example.test/a", 3) == str(expected)


@pytest.mark.parametrize(
    "other",
    [
        ("crawl-2", "https://example.test/a", 0),
        ("crawl-1", "https://example.test/b", 0),
        ("crawl-1", "https://example.test/a", 1),
    ],
)
def test_point_id_differs_per_chunk(other: tuple[str, str, int]) -> None:
    assert point_id("crawl-1", "https://example.test/a", 0) != point_id(*other)


def test_chunk_key_is_readable() -> None:
    assert chunk_key("crawl-1", "https://example.test/a", 3) == "crawl-1:https://example.test/a#3"


def test_chunk_payload_holds_chunk_text() -> None:
    chunk = Chunk(index=2, text="Only this chunk.", token_count=4)
    payload = chunk_payload("crawl-1", "https://example.test/a", "Title", chunk)
    assert payload == {
        "crawl_id": "crawl-1",
        "url": "https://example.test/a",
        "title": "Title",
        "chunk_index": 2,
        "chunk_key": "crawl-1:https://example.test/a#2",
        "text": "Only this chunk.",
    }


@pytest.mark.parametrize(
    ("max_points", "max_bytes"), [(256, 8 * 1024 * 1024), (1000, 1024 * 1024), (50, 32 * 1024)]
)
def test_planned_batches_stay_bounded(
    page_points: list[PointRecord], max_points: int, max_bytes: int
) -> None:
    batches = plan_batches(page_points, max_points=max_points, max_bytes=max_bytes)
    for batch in batches:
        assert len(batch) <= max_points
        assert sum(estimate_request_bytes(point) for point in batch) <= max_bytes
    assert [point for batch in batches for point in batch] == page_points


def test_byte_bound_splits_batches(page_points: list[PointRecord]) -> None:
    batches = plan_batches(page_points, max_points=1000, max_bytes=1024 * 1024)
    assert max(len(batch) for batch in batches) < 1000


def test_oversized_point_gets_own_batch() -> None:
    points = make_points("c", ["small", "x" * 50_000, "small"], random_vectors(3))
    batches = plan_batches(points, max_points=256, max_bytes=20_000)
    assert [len(batch) for batch in batches] == [1, 1, 1]


def test_plan_rejects_zero_bounds() -> None:
    with pytest.raises(ValueError, match="max_points"):
        plan_batches([], max_points=0)


def test_estimate_covers_request_json() -> None:
    vector = np.full(DIM, -1.2345678e-30, dtype=np.float32)
    [point] = make_points("crawl-ü", ['Größe 🤝 "quoted" \\ text\n'], vector[np.newaxis])
    struct = models.PointStruct(
        id=point.point_id, vector=vector.astype(np.float64).tolist(), payload=point.payload
    )
    request_json = models.PointsList(points=[struct]).model_dump_json(exclude_none=True)
    assert estimate_request_bytes(point) >= len(request_json.encode("utf-8"))


def test_open_requires_url_or_path() -> None:
    with pytest.raises(ValueError, match="url"):
        VectorStore.open(url=None, path=None, api_key=None, collection=COLLECTION)


def test_ensure_collection_is_idempotent(store: VectorStore) -> None:
    store.ensure_collection(DIM, MODEL)
    assert store.count("any-crawl") == 0


def test_ensure_collection_survives_reopen(store_path: Path) -> None:
    for _ in range(2):
        with VectorStore.open(url=None, path=store_path, api_key=None, collection="c") as opened:
            opened.ensure_collection(DIM, MODEL)
    with VectorStore.open(url=None, path=store_path, api_key=None, collection="c") as opened:
        with pytest.raises(CollectionMismatchError):
            opened.ensure_collection(768, MODEL)


@pytest.mark.parametrize(
    "fragment",
    [
        "collection 'pulse_chunks' has vectors of dim 384",
        "model 'other/model' produces dim 768",
        "(expected dim: 384, got 768)",
        "set PULSE_QDRANT_COLLECTION",
        "delete the collection yourself",
    ],
)
def test_dim_mismatch_message_explains(store: VectorStore, fragment: str) -> None:
    with pytest.raises(CollectionMismatchError) as raised:
        store.ensure_collection(768, "other/model")
    assert fragment in str(raised.value)


def test_dim_mismatch_keeps_points(store: VectorStore) -> None:
    store.upsert(make_points("crawl-1", ["kept"], random_vectors(1)))
    with pytest.raises(CollectionMismatchError):
        store.ensure_collection(768, "other/model")
    assert store.count("crawl-1") == 1


def test_upsert_returns_batch_sizes(store: VectorStore) -> None:
    points = make_points("crawl-1", [f"chunk {index}" for index in range(250)], random_vectors(250))
    assert store.upsert(points, max_points=100) == [100, 100, 50]


def test_upsert_empty_sends_nothing(store: VectorStore) -> None:
    assert store.upsert([]) == []


def test_count_filters_by_crawl(store: VectorStore) -> None:
    store.upsert(make_points("crawl-1", ["a", "b", "c"], random_vectors(3, seed=1)))
    store.upsert(make_points("crawl-2", ["d", "e"], random_vectors(2, seed=2)))
    assert store.count("crawl-1") == 3
    assert store.count("crawl-2") == 2
    assert store.count("crawl-3") == 0


def test_upsert_same_ids_overwrites(store: VectorStore) -> None:
    store.upsert(make_points("crawl-1", ["old a", "old b"], random_vectors(2, seed=1)))
    store.upsert(make_points("crawl-1", ["new a", "new b"], random_vectors(2, seed=2)))
    assert store.count("crawl-1") == 2


def test_point_ids_lists_crawl_points(store: VectorStore) -> None:
    points = make_points(
        "crawl-1", [f"chunk {index}" for index in range(1500)], random_vectors(1500)
    )
    store.upsert(points)
    store.upsert(make_points("crawl-2", ["other"], random_vectors(1)))
    assert store.point_ids("crawl-1") == {point.point_id for point in points}


def test_delete_removes_points(store: VectorStore) -> None:
    points = make_points("crawl-1", ["a", "b", "c"], random_vectors(3))
    store.upsert(points)
    store.delete([points[0].point_id, points[2].point_id])
    assert store.point_ids("crawl-1") == {points[1].point_id}


def test_delete_empty_is_noop(store: VectorStore) -> None:
    store.upsert(make_points("crawl-1", ["a"], random_vectors(1)))
    store.delete([])
    assert store.count("crawl-1") == 1


def test_search_ranks_real_embeddings(store: VectorStore, embedder: Embedder) -> None:
    texts = [
        "You can declare path parameters with the same syntax as Python format strings.",
        "Bake the bread at 220 degrees for thirty minutes.",
        "OAuth2 with password flow and Bearer tokens.",
    ]
    points = make_points("crawl-1", texts, embedder.embed(texts))
    store.upsert(points)
    [query] = embedder.embed(["How do I declare path parameters?"])
    results = store.search(query, crawl_id="crawl-1", limit=3)
    assert [result[0] for result in results][0] == points[0].point_id
    assert results[0][1] > results[1][1] >= results[2][1]
    assert results[0][2]["text"] == texts[0]


def test_search_filters_by_crawl(store: VectorStore) -> None:
    vectors = random_vectors(4)
    store.upsert(make_points("crawl-1", ["a", "b"], vectors[:2]))
    store.upsert(make_points("crawl-2", ["c", "d"], vectors[2:]))
    results = store.search(vectors[2], crawl_id="crawl-1", limit=10)
    assert {payload["crawl_id"] for _, _, payload in results} == {"crawl-1"}


def test_search_without_crawl_searches_all(store: VectorStore) -> None:
    vectors = random_vectors(4)
    store.upsert(make_points("crawl-1", ["a", "b"], vectors[:2]))
    store.upsert(make_points("crawl-2", ["c", "d"], vectors[2:]))
    results = store.search(vectors[2], crawl_id=None, limit=1)
    assert results[0][2]["crawl_id"] == "crawl-2"


def test_search_payload_is_chunk_only(store: VectorStore) -> None:
    store.upsert(make_points("crawl-1", ["only this chunk"], random_vectors(1)))
    [(_, _, payload)] = store.search(random_vectors(1)[0], crawl_id="crawl-1", limit=1)
    assert payload["text"] == "only this chunk"
    assert payload["chunk_key"] == ("crawl-1:https://fastapi.tiangolo.com/tutorial/path-params/#0")


def test_locked_folder_raises_in_other_process(store: VectorStore, store_path: Path) -> None:
    completed = run_open_script(store_path, timeout_s=0.5)
    assert completed.returncode == LOCKED_EXIT_CODE, completed.stderr
    assert str(store_path) in completed.stdout
    assert "another process" in completed.stdout
    assert "PULSE_QDRANT_URL" in completed.stdout


def test_closed_folder_opens_in_other_process(store_path: Path) -> None:
    with VectorStore.open(url=None, path=store_path, api_key=None, collection=COLLECTION) as first:
        first.ensure_collection(DIM, MODEL)
    completed = run_open_script(store_path, timeout_s=0.5)
    assert completed.returncode == 0, completed.stderr + completed.stdout


def test_waiting_process_opens_after_close(store_path: Path) -> None:
    first = VectorStore.open(url=None, path=store_path, api_key=None, collection=COLLECTION)
    command = [sys.executable, "-c", OPEN_SCRIPT, str(store_path), "120"]
    waiting = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert waiting.stderr is not None
        # The child logs once when it finds the folder locked and starts to retry.
        for line in waiting.stderr:
            if "retrying" in line:
                break
        first.close()
        assert waiting.wait(timeout=120) == 0
    finally:
        first.close()
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()


def test_locked_error_names_folder(store: VectorStore, store_path: Path) -> None:
    with pytest.raises(VectorStoreLockedError) as raised:
        VectorStore.open(
            url=None, path=store_path, api_key=None, collection=COLLECTION, lock_timeout_s=0.2
        )
    assert str(store_path) in str(raised.value)
