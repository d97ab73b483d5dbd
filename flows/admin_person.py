"""What flows add to the person page of the admin: the person's run history.

``person_flow_runs_context`` gives the "Flow runs" section of
``templates/admin/people/person/flow_runs.html`` (newest first, at most 50) to users who may
view runs; ``people.admin.PersonAdmin.change_view`` adds it next to the segments.
"""

from django.http import HttpRequest
from django.urls import reverse

from flows.selectors import person_flow_runs
from people.models import Person

MAX_RUNS = 50


def person_flow_runs_context(request: HttpRequest, person: Person) -> dict:
    """Return the person's latest runs, each with links to its flow and to the run."""
    if not request.user.has_perm("flows.view_flowrun"):
        return {}
    runs = list(person_flow_runs(person=person)[: MAX_RUNS + 1])
    rows = [
        {
            "run": run,
            "flow_url": reverse("admin:flows_flow_change", args=[run.flow_id]),
            "run_url": reverse("admin:flows_flowrun_change", args=[run.pk]),
        }
        for run in runs[:MAX_RUNS]
    ]
    return {
        "flow_runs_shown": True,
        "flow_run_rows": rows,
        "flow_runs_more": len(runs) > MAX_RUNS,
        "flow_runs_url": f"{reverse('admin:flows_flowrun_changelist')}?person={person.pk}",
    }
