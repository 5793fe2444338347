"""`GET /api/search`: hybrid search over the indexed chunks, behind `X-API-Secret`.

The embedding model is loaded at the first search, so start-up and deliveries do not load it.
Qdrant is opened per request and closed right after, because in local mode an indexing run
needs the storage folder for itself while it writes points.
"""

from __future__ import annotations

import logging
import threading
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError

from pulse_assets.search.runtime import SearchRuntime
from pulse_assets.search.stored import crawl_exists
from webhook_receiver.delivery import RETRY_AFTER_S
from webhook_receiver.deps import ReceiverStateDep
from webhook_receiver.schemas import ErrorDetail
from webhook_receiver.security import require_api_secret
from webhook_receiver.warehouse import database_error_summary

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/api",
    tags=["search"],
    dependencies=[Depends(require_api_secret)],
    responses={
        401: {"model": ErrorDetail, "description": "X-API-Secret is missing or invalid."},
        503: {"model": ErrorDetail, "description": "The warehouse or the API is unavailable."},
    },
)

MAX_LIMIT = 100
MAX_QUERY_CHARS = 1000
_runtime_lock = threading.Lock()


class SearchHitModel(BaseModel):
    """The best-ranked chunk of one URL."""

    url: str
    title: str | None
    text: str = Field(description="Text of the chunk that matched.")
    score: float = Field(description="Reciprocal rank fusion score. Higher scores rank first.")
    dense_rank: int | None = Field(description="1-based rank in the dense list, or null.")
    bm25_rank: int | None = Field(description="1-based rank in the BM25 list, or null.")
    crawl_id: str
    chunk_index: int


class SearchResponse(BaseModel):
    """Hits, best first, at most one per URL, and the status of each retriever."""

    query: str
    crawl_id: str | None
    hits: list[SearchHitModel]
    dense: str = Field(
        description="`ok`, or `unavailable: <reason>` when the vector search failed, for "
        "example because an indexing run held the Qdrant storage folder; the hits are then "
        "BM25 hits alone."
    )
    bm25: str = Field(description="`ok`, or `unavailable: <reason>` when a BM25 index failed.")


def get_search_runtime(request: Request) -> SearchRuntime:
    """Return the app's SearchRuntime, created at the first search."""
    with _runtime_lock:
        runtime: SearchRuntime | None = getattr(request.app.state, "search_runtime", None)
        if runtime is None:
            runtime = SearchRuntime(request.app.state.receiver.settings)
            request.app.state.search_runtime = runtime
    return runtime


SearchRuntimeDep = Annotated[SearchRuntime, Depends(get_search_runtime)]


@router.get(
    "/search",
    response_model=SearchResponse,
    responses={404: {"model": ErrorDetail, "description": "No crawl has this id."}},
    summary="Search the indexed pages",
)
def get_search(
    state: ReceiverStateDep,
    runtime: SearchRuntimeDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=MAX_QUERY_CHARS,
            pattern=r"\S",
            description="Search text, which must contain a non-space character.",
        ),
    ],
    crawl_id: Annotated[
        str | None, Query(description="Crawl to search. Unset searches every crawl.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Maximum hits.")] = 10,
) -> SearchResponse:
    """Return the best chunk of each matching URL, ranked by fusing dense and BM25 results.

    An unknown `crawl_id` returns 404. A known crawl without chunks, for example one whose
    pages all failed, returns 200 with no hits.
    """
    # Imported here because they import fastembed and qdrant-client, which slow start-up.
    from pulse_assets.search.output import results_as_dict
    from pulse_assets.search.service import search

    # No stored crawl id contains NUL, which psycopg2 also cannot send as a parameter.
    if crawl_id is not None and "\x00" in crawl_id:
        raise HTTPException(status_code=404, detail=f"crawl {crawl_id!r} not found")
    try:
        if crawl_id is not None and not crawl_exists(state.engine, crawl_id):
            raise HTTPException(status_code=404, detail=f"crawl {crawl_id!r} not found")
        results = search(
            q,
            crawl_id=crawl_id,
            limit=limit,
            engine=state.engine,
            embedder=runtime.embedder,
            open_store=runtime.open_store,
            bm25_cache=runtime.bm25_cache,
        )
    except SQLAlchemyError as error:
        suppressed = state.log_limiter.allow(f"search:{error.__class__.__name__}")
        if suppressed is not None:
            log.error(
                "Search query failed, warehouse %s: %s (%d similar messages suppressed)",
                error.__class__.__name__,
                database_error_summary(error),
                suppressed,
            )
        raise HTTPException(
            status_code=503,
            detail=f"warehouse unavailable ({error.__class__.__name__}), retry later",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        ) from error
    return SearchResponse.model_validate(results_as_dict(q, crawl_id, results))
