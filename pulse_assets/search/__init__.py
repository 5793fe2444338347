"""Hybrid search over the index: Qdrant vectors and the stored BM25 indexes, fused by RRF.

`service.search` is the entry point. The receiver's `GET /api/search` and `pulse search` call it.
"""
