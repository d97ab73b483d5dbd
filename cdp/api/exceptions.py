"""``ApiError``, apart from the exception handler (``cdp.api.errors``) so that the request
parser DRF's settings name can raise it without importing DRF's views."""

from rest_framework import exceptions, status


class ApiError(exceptions.APIException):
    """An error with a code and the field it concerns."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid",
        field: str | None = None,
        status_code: int = status.HTTP_400_BAD_REQUEST,
    ):
        self.status_code = status_code
        self.error_code = code
        self.field = field
        super().__init__(detail=message, code=code)
