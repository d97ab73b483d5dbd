"""Where export files go: an S3 bucket (boto3) or the local export folder (SPEC §9).

Both write a file first to a temporary file and then publish it under its final name in one
step, so a final name never shows a partial file, and never over an existing file: what is
there already is left alone and ``DestinationError`` says so, unless it is this export's own
file with the same bytes (a completion answered after it succeeded, or an earlier run's).
``publish`` returns the bytes now under the name, which the run checks against those written.

- **S3**: an explicit multipart upload (create, parts of 8 MiB, complete); the object appears
  only when the upload completes, and a failed upload is aborted. The completion is a
  conditional write (``If-None-Match: *``): S3 refuses it when the key exists. Objects carry
  the request id as metadata (``x-amz-meta-cdp-export``), which tells this export's own files
  from others'. Credentials: STS AssumeRole
  on the request's role ARN (with its external id), refreshed before they expire, else
  boto3's default chain. The endpoint is never taken from a request: boto3 reads
  ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` (and ``_STS``) from the server's environment.
  Throttling, 5xx and connection errors are retried by botocore (standard mode); a failed
  file is uploaded again up to ``CDP_EXPORT_UPLOAD_ATTEMPTS`` times unless the error is
  permanent (no such bucket, access denied…), then ``DestinationError`` carries the message.
- **Local folder**: ``CDP_EXPORT_DIR/<workspace slug>/<path>/``; a hidden ``.part`` file in
  the same folder is hard-linked to the final name, which fails when the name exists.

``discard`` removes what an interrupted run may have left for a file (a stale multipart
upload or ``.part`` file, or a completed object whose run died before recording it): a file
under the final name only when it is that run's (its size, and on S3 the request id).
"""

import filecmp
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from django.conf import settings

logger = logging.getLogger(__name__)

PART_SIZE = 8 * 1024 * 1024
CONTENT_TYPE = "application/gzip"
PERMANENT_CODES = frozenset(
    {
        "NoSuchBucket",
        "AccessDenied",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "InvalidBucketName",
        "SignatureDoesNotMatch",
        "AuthorizationHeaderMalformed",
        "AccountProblem",
        "InvalidToken",
        "ExpiredToken",
        "PermanentRedirect",
        "InvalidClientTokenId",
        "MalformedPolicyDocument",
        "InvalidParameterValue",
        "ValidationError",
    }
)


class DestinationError(Exception):
    """Files cannot be written there; the message is shown as the export's error."""


class FileExistsAtDestination(DestinationError):
    """Another file holds the name; it was not overwritten."""


def _error_code(exc: Exception) -> str:
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""


def _config() -> Config:
    return Config(
        retries={"max_attempts": settings.CDP_EXPORT_S3_MAX_ATTEMPTS, "mode": "standard"},
        connect_timeout=10,
        read_timeout=120,
    )


def s3_session(
    *, region: str, role_arn: str, external_id: str, session_name: str
) -> boto3.session.Session:
    """Return a boto3 session: with ``role_arn``, credentials from STS AssumeRole (refreshed
    before they expire); else the default credential chain."""
    if not role_arn:
        return boto3.session.Session(region_name=region or None)
    sts = boto3.session.Session(region_name=region or None).client("sts", config=_config())
    params = {"RoleArn": role_arn, "RoleSessionName": session_name[:64], "DurationSeconds": 3600}
    if external_id:
        params["ExternalId"] = external_id

    def fetch() -> dict:
        credentials = sts.assume_role(**params)["Credentials"]
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": credentials["Expiration"].isoformat(),
        }

    core = botocore.session.Session()
    core._credentials = RefreshableCredentials.create_from_metadata(
        metadata=fetch(), refresh_using=fetch, method="sts-assume-role"
    )
    if region:
        core.set_config_variable("region", region)
    return boto3.session.Session(botocore_session=core)


class S3Destination:
    """Files in ``bucket`` under ``prefix``."""

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str,
        tag: str,
        region: str = "",
        role_arn: str = "",
        external_id: str = "",
        session_name: str = "cdp-export",
    ):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.tag = tag  # the request id, in each object's metadata
        try:
            session = s3_session(
                region=region, role_arn=role_arn, external_id=external_id, session_name=session_name
            )
            self.client = session.client("s3", config=_config())
        except (BotoCoreError, ClientError) as exc:
            raise DestinationError(f"cannot get S3 credentials: {exc}") from exc

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    @contextmanager
    def temporary(self) -> Iterator[BinaryIO]:
        with tempfile.TemporaryFile(prefix="cdp-export-") as fileobj:
            yield fileobj

    def publish(self, fileobj: BinaryIO, key: str) -> int:
        """Upload ``fileobj`` to ``key`` unless the key exists, retrying; return the bytes
        uploaded, or raise ``DestinationError``."""
        attempts = max(1, settings.CDP_EXPORT_UPLOAD_ATTEMPTS)
        for attempt in range(1, attempts + 1):
            try:
                return self._upload(fileobj, key)
            except (BotoCoreError, ClientError) as exc:
                if _error_code(exc) == "PreconditionFailed":
                    return self._existing(fileobj, key)
                permanent = _error_code(exc) in PERMANENT_CODES or isinstance(
                    exc, NoCredentialsError | PartialCredentialsError
                )
                if permanent or attempt == attempts:
                    tries = "" if attempt == 1 else f" after {attempt} attempts"
                    raise DestinationError(
                        f"S3 upload of {key} to bucket {self.bucket} failed{tries}: {exc}"
                    ) from exc
                logger.warning("export upload of %s failed (attempt %s): %s", key, attempt, exc)
                time.sleep(settings.CDP_EXPORT_RETRY_SECONDS * attempt)

    def _existing(self, fileobj: BinaryIO, key: str) -> int:
        """S3 refused to overwrite ``key``: return its size if it is this export's own upload
        of the same bytes, else raise ``FileExistsAtDestination``."""
        size = fileobj.seek(0, os.SEEK_END)
        try:
            found = self._own(key)
        except (BotoCoreError, ClientError) as exc:
            raise DestinationError(
                f"{key} already exists in bucket {self.bucket} and cannot "
                f"be read ({exc}); it was not overwritten"
            ) from exc
        if found and found["ContentLength"] == size:
            return size
        raise FileExistsAtDestination(
            f"{key} already exists in bucket {self.bucket}; it was not overwritten"
        )

    def _own(self, key: str) -> dict | None:
        """The HEAD answer of ``key`` when the object is this export's, else None (also when
        the credentials may not read it: then it is not known to be ours)."""
        try:
            answer = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "403", "AccessDenied"):
                return None
            raise
        return answer if answer.get("Metadata", {}).get("cdp-export") == self.tag else None

    def _upload(self, fileobj: BinaryIO, key: str) -> int:
        fileobj.seek(0)
        upload_id = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=key, ContentType=CONTENT_TYPE, Metadata={"cdp-export": self.tag}
        )["UploadId"]
        try:
            parts = []
            size = 0
            while chunk := fileobj.read(PART_SIZE):
                number = len(parts) + 1
                answer = self.client.upload_part(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=chunk
                )
                parts.append({"PartNumber": number, "ETag": answer["ETag"]})
                size += len(chunk)
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                IfNoneMatch="*",
            )
            return size
        except BaseException:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except (BotoCoreError, ClientError) as exc:
                logger.warning("could not abort the upload of %s: %s", key, exc)
            raise

    def discard(self, key: str, size: int) -> None:
        """Abort unfinished uploads to ``key`` and delete the object there if it is this
        export's and ``size`` bytes long (the file an interrupted run completed)."""
        try:
            answer = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=key)
            for upload in answer.get("Uploads", []):
                if upload["Key"] == key:
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=key, UploadId=upload["UploadId"]
                    )
            found = self._own(key)
            if found and found["ContentLength"] == size:
                self.client.delete_object(Bucket=self.bucket, Key=key, IfMatch=found["ETag"])
        except (BotoCoreError, ClientError) as exc:
            raise DestinationError(
                f"S3 clean-up of {key} in bucket {self.bucket} failed: {exc}"
            ) from exc


class LocalDestination:
    """Files in a folder under ``CDP_EXPORT_DIR``; keys are paths relative to it."""

    def __init__(self, *, prefix: str, tag: str):
        self.root = Path(settings.CDP_EXPORT_DIR)
        self.prefix = prefix.strip("/")
        self.tag = tag  # names this request's temporary files

    def __str__(self) -> str:
        return str(self.root / self.prefix)

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    @contextmanager
    def temporary(self) -> Iterator[BinaryIO]:
        """Yield a hidden ``.part`` file in the destination folder, removed unless published."""
        folder = self.root / self.prefix
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(dir=folder, prefix=f".{self.tag}-", suffix=".part")
        except OSError as exc:
            raise DestinationError(f"cannot write to the export folder {folder}: {exc}") from exc
        os.close(handle)
        try:
            with open(name, "w+b") as fileobj:
                yield fileobj
        finally:
            Path(name).unlink(missing_ok=True)

    def publish(self, fileobj: BinaryIO, key: str) -> int:
        """Link the finished ``.part`` file to the final name unless the name exists (atomic on
        one file system); return the bytes under the name."""
        fileobj.flush()
        os.fsync(fileobj.fileno())
        final = self.root / key
        try:
            os.link(fileobj.name, final)
        except FileExistsError:
            # An earlier run's file with the same bytes is this one; anything else is kept.
            if not filecmp.cmp(fileobj.name, final, shallow=False):
                raise FileExistsAtDestination(
                    f"{key} already exists in the export folder; it was not overwritten"
                ) from None
        except OSError as exc:
            raise DestinationError(f"cannot write {key} in the export folder: {exc}") from exc
        return final.stat().st_size

    def discard(self, key: str, size: int) -> None:
        """Remove an interrupted run's ``.part`` files and its file under ``key`` (one of
        ``size`` bytes: what that run wrote)."""
        final = self.root / key
        with suppress(FileNotFoundError):
            if final.stat().st_size == size:
                final.unlink()
        for stale in (self.root / key).parent.glob(f".{self.tag}-*.part"):
            stale.unlink(missing_ok=True)
