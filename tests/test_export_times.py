import pytest

from vindex.errors import VindexError
from vindex.exporting import parse_time


@pytest.mark.parametrize("text, seconds", [("83.5", 83.5), ("1:23", 83.0), ("1:02:03", 3723.0), ("0:59.5", 59.5)])
def test_export_times_read_as_seconds_or_clock_times(text, seconds):
    assert parse_time(text) == seconds


@pytest.mark.parametrize("text", ["9:99", "1:60", "1:75:00"])
def test_a_clock_time_with_sixty_or_more_after_a_colon_is_refused_not_carried_over(text):
    with pytest.raises(VindexError, match="from 00 to 59"):
        parse_time(text)
