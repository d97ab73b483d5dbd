"""What the kernel changes in the admin of the apps it builds on.

django-celery-beat registers five screens. Schedules are written by the services only
(intervals for the periodic tasks, crontabs for scheduled exports and flows, a clocked time for
a flow's one-off schedule, never a solar one), so nobody edits clocked or solar schedules here:
those two screens are removed (a periodic task's page still shows its clocked time). Periodic
tasks, intervals and crontabs stay for superusers to inspect; no group is given their
permissions (the groups' migrations), so marketers never see scheduler internals.
(``django_celery_beat`` comes before ``cdp`` in ``INSTALLED_APPS``, so its registrations
exist when this module is autodiscovered.)
"""

from django.contrib import admin
from django_celery_beat.models import ClockedSchedule, SolarSchedule

for model in (ClockedSchedule, SolarSchedule):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
