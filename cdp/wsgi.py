"""WSGI entry point (gunicorn cdp.wsgi).

The objects loaded at start-up (settings, apps, models) live as long as the process:
``gc.freeze()`` moves them out of the cyclic collector's generations, so that its full
collections while serving scan only what requests allocate.
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdp.settings")
application = get_wsgi_application()
gc.freeze()
