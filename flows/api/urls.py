"""Routes of the flows API under ``/api/v1/``."""

from django.urls import path

from flows.api import views

urlpatterns = [
    path("flows", views.FlowListCreateView.as_view(), name="api-flows"),
    path("flows/templates", views.FlowTemplatesView.as_view(), name="api-flows-templates"),
    path(
        "flows/templates/<slug:key>",
        views.FlowFromTemplateView.as_view(),
        name="api-flows-template-create",
    ),
    path("flows/<int:flow_id>", views.FlowDetailView.as_view(), name="api-flow"),
    path(
        "flows/<int:flow_id>/activate", views.FlowActivateView.as_view(), name="api-flow-activate"
    ),
    path("flows/<int:flow_id>/pause", views.FlowPauseView.as_view(), name="api-flow-pause"),
    path("flows/<int:flow_id>/resume", views.FlowResumeView.as_view(), name="api-flow-resume"),
    path("flows/<int:flow_id>/finish", views.FlowFinishView.as_view(), name="api-flow-finish"),
    path("flows/<int:flow_id>/runs", views.FlowRunsView.as_view(), name="api-flow-runs"),
    path(
        "people/<int:person_id>/flow-runs",
        views.PersonFlowRunsView.as_view(),
        name="api-person-flow-runs",
    ),
]
