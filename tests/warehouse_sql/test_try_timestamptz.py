"""The warehouse's forgiving timestamp cast, on a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

EIGHT_UTC = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-20T08:00:00.000Z", EIGHT_UTC),
        ("2026-11-20T08:00:00", EIGHT_UTC),
        ("2026-11-20T09:30:00+01:30", EIGHT_UTC),
        ("not-a-date", None),
        ("2026-13-45T99:00:00Z", None),
        ("", None),
    ],
)
def test_try_timestamptz_session_in_tokyo(
    migrated_engine: Engine, value: str, expected: datetime | None
) -> None:
    with migrated_engine.connect() as connection:
        connection.execute(text("SET TIME ZONE 'Asia/Tokyo'"))
        parsed = connection.execute(
            text("SELECT webhook.try_timestamptz(:value)"), {"value": value}
        ).scalar()
        connection.rollback()

    assert parsed == expected
