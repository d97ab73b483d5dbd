"""Request-level answers in the native error shape.

Django refuses a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` by raising ``RequestDataTooBig``
when a view first reads ``request.body`` (DRF's parser does), which Django answers with an
HTML 400. API callers get ``{"error": {"code", "message", "field"}}`` with 413 instead. The
ingest routes read their bodies themselves with a larger bound (``cdp.api.parsing``).
"""

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse

from cdp.api.errors import error_body


class JsonBodyTooLargeMiddleware:
    """Answer ``RequestDataTooBig`` raised by a view with a JSON 413 (the admin keeps
    Django's own page)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, RequestDataTooBig) or request.path.startswith("/admin/"):
            return None
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = error_body("body_too_large", f"request body over {limit} bytes", "body")
        return HttpResponse(orjson.dumps(body), status=413, content_type="application/json")
