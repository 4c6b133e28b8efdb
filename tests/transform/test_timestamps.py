from datetime import UTC, datetime

import pytest

from spotify_pipeline.transform.timestamps import format_played_at, parse_played_at


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-09-22T15:43:33.750Z", datetime(2023, 9, 22, 15, 43, 33, 750_000, tzinfo=UTC)),
        ("2016-12-13T20:44:04.589Z", datetime(2016, 12, 13, 20, 44, 4, 589_000, tzinfo=UTC)),
        ("2023-09-22T15:43:33Z", datetime(2023, 9, 22, 15, 43, 33, tzinfo=UTC)),
        ("2023-09-22T15:43:33.7Z", datetime(2023, 9, 22, 15, 43, 33, 700_000, tzinfo=UTC)),
        # beyond the millisecond is truncated, never rounded into the next second
        ("2023-09-22T15:43:59.999999Z", datetime(2023, 9, 22, 15, 43, 59, 999_000, tzinfo=UTC)),
        ("2023-09-22T17:43:33.750+02:00", datetime(2023, 9, 22, 15, 43, 33, 750_000, tzinfo=UTC)),
        ("2023-12-31T23:30:00.000-01:00", datetime(2024, 1, 1, 0, 30, tzinfo=UTC)),
    ],
)
def test_parses_iso_timestamps_to_aware_utc_milliseconds(text: str, expected: datetime) -> None:
    parsed = parse_played_at(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "2023-09-22T15:43:33.750",  # no offset: ambiguous
        "2023-09-22 15:43:33.750Z",  # space
        "2023-09-22",
        "2023-02-30T10:00:00Z",  # no such day
        "2023-09-22T25:00:00Z",
        "2023-09-22T15:43:33.Z",
        "2023-09-22T15:43:33.750+25:00",
        "1695397413750",
        "",
        " 2023-09-22T15:43:33.750Z",
    ],
)
def test_rejects_anything_else_naming_the_value(text: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_played_at(text)
    assert repr(text) in str(exc.value)


def test_rejects_non_strings() -> None:
    with pytest.raises(ValueError, match="not a string"):
        parse_played_at(1695397413750)  # type: ignore[arg-type]


def test_format_is_the_inverse_and_keeps_the_trailing_zero() -> None:
    assert format_played_at(parse_played_at("2023-09-22T15:43:33.750Z")) == "2023-09-22T15:43:33.750Z"
    with pytest.raises(ValueError, match="no timezone"):
        format_played_at(datetime(2023, 1, 1))
