"""Load the SQL statements kept as `.sql` files under `warehouse_sql/queries/`."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from sqlalchemy import TextClause, text

QUERIES_DIR = Path(__file__).parent / "queries"


@cache
def load_sql(name: str) -> TextClause:
    """Return the statement in `queries/<name>.sql` as a SQLAlchemy text clause."""
    path = QUERIES_DIR / f"{name}.sql"
    if not path.exists():
        raise FileNotFoundError(f"SQL file not found: {path}")
    return text(path.read_text())
