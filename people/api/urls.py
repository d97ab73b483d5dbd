"""Routes of the native people API under ``/api/v1/``."""

from django.urls import path

from people.api import merge_erase, views

urlpatterns = [
    path("people", views.PersonListCreateView.as_view(), name="api-people"),
    path("people/lookup", views.PersonLookupView.as_view(), name="api-people-lookup"),
    path("people/<int:person_id>", views.PersonDetailView.as_view(), name="api-person"),
    path(
        "people/<int:person_id>/identifiers",
        views.PersonIdentifiersView.as_view(),
        name="api-person-identifiers",
    ),
    path("people/<int:person_id>/tags", views.PersonTagsView.as_view(), name="api-person-tags"),
    path(
        "people/<int:person_id>/merge",
        merge_erase.PersonMergeView.as_view(),
        name="api-person-merge",
    ),
    path(
        "people/<int:person_id>/erase",
        merge_erase.PersonEraseView.as_view(),
        name="api-person-erase",
    ),
    path(
        "attribute-definitions",
        views.AttributeDefinitionsView.as_view(),
        name="api-attribute-definitions",
    ),
]
