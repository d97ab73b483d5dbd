"""The web SDK demo page (``/sdk/demo``): a small shop page that loads ``static/cdp/cdp.js``.

It shows the snippet at work (commands pushed before the script loads, buttons that track, an
identify form, links that carry UTM parameters) and is what the browser test drives. Served
only when ``CDP_SDK_DEMO`` is on (the default with DEBUG). The public key comes from ``?key=``;
a GET never creates one (``manage.py create_api_key --workspace demo --public`` does).
"""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

PAGES = {"": "Home", "pricing": "Pricing", "checkout": "Checkout"}


def sdk_demo(request: HttpRequest, page: str = "") -> HttpResponse:
    """Render one page of the demo shop with the SDK snippet and the key from ``?key=``."""
    if not settings.CDP_SDK_DEMO or page not in PAGES:
        raise Http404("no such demo page")
    key = request.GET.get("key", "")[:200]
    return render(
        request,
        "cdp/sdk_demo.html",
        {
            "key": key,
            "page": page,
            "title": PAGES[page],
            "pages": PAGES.items(),
            "sdk_config": {"key": key},
        },
    )
