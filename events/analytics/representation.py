"""The JSON and CSV forms of analytics results, shared by the API and the admin page. The JSON
forms are what ``SegmentationOutSerializer``, ``FunnelOutSerializer``, ``RetentionOutSerializer``
and ``PeopleOutSerializer`` (``events.analytics.api``) describe; tests/events/analytics/
test_api.py checks answers against them."""

import io

from cdp import csvfile
from events.analytics.funnels import FunnelResult
from events.analytics.people import PeoplePage
from events.analytics.retention import RetentionResult
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


def retention_json(result: RetentionResult) -> dict:
    query = result.query
    return {
        "from": _iso(query.start),
        "to": _iso(query.end),
        "interval": query.interval,
        "periods": query.periods,
        "cohortEvent": query.cohort_event.label,
        "returnEvent": query.return_event.label,
        "segment": query.segment_id,
        "cohorts": [
            {"start": _iso(c.start), "people": c.people, "returned": list(c.returned)}
            for c in result.cohorts
        ],
    }


def people_json(page: PeoplePage, person_url=None) -> dict:
    """A page of people; ``person_url(pk)`` adds each one's admin page (the admin's form)."""
    results = []
    for person in page.people:
        row = {"personId": person.pk, "externalId": person.external_id, "name": str(person)}
        if person_url is not None:
            row["url"] = person_url(person.pk)
        results.append(row)
    return {"count": page.count, "limit": page.limit, "offset": page.offset, "results": results}


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


def retention_csv(result: RetentionResult) -> str:
    """One line per cohort and period: ``cohort, people, period, returned``."""
    rows = [
        (_iso(c.start), c.people, period, returned)
        for c in result.cohorts
        for period, returned in enumerate(c.returned)
    ]
    return _csv(["cohort", "people", "period", "returned"], rows)
