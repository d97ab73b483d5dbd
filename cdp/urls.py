"""URL map: admin, health check, the native API and its OpenAPI schema, the SDK demo, and
``/favicon.ico`` (a redirect to the site's icon, which admin pages also name in their head)."""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from cdp.health import healthz
from cdp.sdk_demo import sdk_demo

admin.site.site_header = "CDP"
admin.site.site_title = "CDP"
# The admin is the site (with the API): no "View site" link leading to a 404. The user tools
# link to the API docs instead (templates/admin/base_site.html).
admin.site.site_url = None

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path(
        "favicon.ico",
        RedirectView.as_view(url=lazy(static, str)("cdp/favicon.svg"), permanent=True),
        name="favicon",
    ),
    # Ready-made flows in the admin (``flows.admin_templates``), ahead of the flow pages.
    path("admin/flows/flow/templates/", include("flows.admin_templates")),
    path("admin/", admin.site.urls),
    path("sdk/demo", sdk_demo, name="sdk-demo"),
    path("sdk/demo/<slug:page>", sdk_demo, name="sdk-demo-page"),
    path("api/v1/schema", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up code as a script file (no inline script, CSP).
    path(
        "api/v1/docs", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"
    ),
    path("api/v1/", include("events.api.urls")),
    path("api/v1/", include("people.api.urls")),
    path("api/v1/", include("people.segments.urls")),
    path("api/v1/", include("flows.api.urls")),
    path("api/v1/", include("events.exports.urls")),
    path("api/v1/", include("events.analytics.urls")),
    path("", include("events.compat.urls")),
]
