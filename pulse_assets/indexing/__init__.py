"""Chunking, embedding and indexing of page text for the Pulse search index."""
