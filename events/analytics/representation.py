"""The JSON and CSV forms of analytics results, shared by the API and the admin page. The JSON
forms are what ``SegmentationOutSerializer`` and ``FunnelOutSerializer`` (``events.analytics.
api``) describe; tests/events/analytics/test_api.py checks answers against them."""

import io

from cdp import csvfile
from events.analytics.funnels import FunnelResult
from events.analytics.segmentation import SegmentationResult


def _iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


def segmentation_json(result: SegmentationResult) -> dict:
    query = result.query
    return {
        "from": _iso(query.start),
        "to": _iso(query.end),
        "interval": query.interval,
        "breakdown": query.breakdown.property if query.breakdown else None,
        "segment": query.segment_id,
        "buckets": [_iso(b) for b in result.buckets],
        "series": [
            {
                "event": s.event,
                "label": s.label,
                "value": s.value,
                "other": s.other,
                "events": list(s.events),
                "people": list(s.people),
                "totalEvents": s.total_events,
            }
            for s in result.series
        ],
    }


def funnel_json(result: FunnelResult) -> dict:
    query = result.query
    return {
        "from": _iso(query.start),
        "to": _iso(query.end),
        "conversionWindowSeconds": int(query.window.total_seconds()),
        "segment": query.segment_id,
        "steps": [
            {
                "step": s.number,
                "event": s.event,
                "label": s.label,
                "people": s.people,
                "conversionFromPrevious": s.conversion_from_previous,
                "conversionFromFirst": s.conversion_from_first,
                "medianSecondsFromPrevious": s.median_seconds_from_previous,
            }
            for s in result.steps
        ],
    }


def _csv(header: list[str], rows) -> str:
    out = io.StringIO()
    writer = csvfile.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def segmentation_csv(result: SegmentationResult) -> str:
    """One line per bucket and series: ``bucket, series, event, value, events, people``."""
    rows = [
        (
            _iso(bucket),
            s.label,
            s.event,
            "(other)" if s.other else s.value or "",
            s.events[i],
            s.people[i],
        )
        for i, bucket in enumerate(result.buckets)
        for s in result.series
    ]
    return _csv(["bucket", "series", "event", "value", "events", "people"], rows)


def funnel_csv(result: FunnelResult) -> str:
    """One line per step, conversions as fractions, the median in seconds."""
    rows = [
        (
            s.number,
            s.label,
            s.event,
            s.people,
            "" if s.conversion_from_previous is None else f"{s.conversion_from_previous:.4f}",
            f"{s.conversion_from_first:.4f}",
            ""
            if s.median_seconds_from_previous is None
            else f"{s.median_seconds_from_previous:.3f}",
        )
        for s in result.steps
    ]
    return _csv(
        [
            "step",
            "label",
            "event",
            "people",
            "conversion_from_previous",
            "conversion_from_first",
            "median_seconds_from_previous",
        ],
        rows,
    )
