"""gunicorn settings read from the project folder (gunicorn loads ./gunicorn.conf.py itself).

The access log goes through ``cdp.log_redaction.GunicornLogger``, which writes
``access_token=[redacted]`` instead of the API key the DM Hub-compatible endpoints take in the
query string. Command-line options still apply on top.
"""

logger_class = "cdp.log_redaction.GunicornLogger"
