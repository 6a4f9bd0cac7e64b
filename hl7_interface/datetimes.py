"""HL7 dates and times (DTM, DT) as aware datetimes, and back. Pure Python."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from hl7_interface.codec import Hl7Error

_DTM = re.compile(
    r"(?P<y>\d{4})(?:(?P<mo>\d{2})(?:(?P<d>\d{2})(?:(?P<h>\d{2})(?:(?P<mi>\d{2})"
    r"(?:(?P<s>\d{2})(?:\.(?P<f>\d{1,4}))?)?)?)?)?)?(?P<tz>[+-]\d{4})?"
)


def parse_datetime(
    value: str, *, zone: zoneinfo.ZoneInfo, segment: str, field: int
) -> dt.datetime | None:
    """An HL7 DTM as an aware datetime (no offset: the sending site's local time)."""
    if not value:
        return None
    match = _DTM.fullmatch(value.strip())
    if match is None:
        raise Hl7Error(
            "not an HL7 date/time (YYYYMMDD[HHMM[SS]][+ZZZZ])",
            segment=segment,
            field=field,
            value=value,
            error_code="102",
        )
    parts = match.groupdict()
    try:
        fraction = parts["f"] or ""
        moment = dt.datetime(
            int(parts["y"]),
            int(parts["mo"] or 1),
            int(parts["d"] or 1),
            int(parts["h"] or 0),
            int(parts["mi"] or 0),
            int(parts["s"] or 0),
            int(fraction.ljust(6, "0")) if fraction else 0,
            tzinfo=zone,
        )
    except ValueError as exc:
        raise Hl7Error(
            f"not a real date/time ({exc})",
            segment=segment,
            field=field,
            value=value,
            error_code="102",
        ) from None
    if parts["tz"]:
        sign = 1 if parts["tz"][0] == "+" else -1
        offset = dt.timedelta(hours=int(parts["tz"][1:3]), minutes=int(parts["tz"][3:5]))
        return moment.replace(tzinfo=dt.timezone(sign * offset))
    # No offset: local time where the message was written (fold=0 in the repeated DST hour).
    return moment


def parse_date(value: str, *, segment: str, field: int) -> dt.date | None:
    if not value:
        return None
    moment = parse_datetime(value[:8], zone=zoneinfo.ZoneInfo("UTC"), segment=segment, field=field)
    assert moment is not None
    if len(value.strip()) < 8:
        raise Hl7Error(
            "a date needs year, month and day (YYYYMMDD)",
            segment=segment,
            field=field,
            value=value,
            error_code="102",
        )
    return moment.date()


def format_datetime(moment: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """Local time of the receiving site with its offset, to the second."""
    local = moment.astimezone(zone)
    return local.strftime("%Y%m%d%H%M%S%z")
