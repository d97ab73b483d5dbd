"""Where export files go: an S3 bucket (boto3) or the local export folder (SPEC §9).

Both write a file first to a temporary file and then publish it under its final name in one
step, so a final name never shows a partial file, and never over an existing file: what is
there already is left alone and ``DestinationError`` says so, unless it is this export's own
file with the same bytes (a completion answered after it succeeded, or an earlier run's).
``publish`` returns the bytes now under the name, which the run checks against those written.

- **S3**: boto3's managed transfer (``upload_fileobj`` with ``TRANSFER``): a file under
  ``PART_SIZE`` is one PutObject, a larger one a multipart upload whose parts go up
  ``CONCURRENCY`` at a time (at most that many parts in memory) and which s3transfer aborts
  when any call fails; the object appears only when the upload completes. Both are create-only
  writes (``If-None-Match: *``, added to PutObject and CompleteMultipartUpload by a botocore
  event handler on the upload client, since s3transfer does not pass that argument): S3
  refuses them when the key exists. Objects carry the request id as metadata
  (``x-amz-meta-cdp-export``), which tells this export's own files from others'. Credentials:
  STS AssumeRole on the request's role ARN (with its external id), refreshed before they
  expire, else boto3's default chain. The endpoint is never taken from a request: boto3 reads
  ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` (and ``_STS``) from the server's environment.
  Throttling, 5xx and connection errors are retried by botocore (standard mode,
  ``CDP_EXPORT_S3_MAX_ATTEMPTS`` per call, the parts each on their own); then
  ``DestinationError`` carries the message.
- **Local folder**: ``CDP_EXPORT_DIR/<workspace slug>/<path>/``; a hidden ``.part`` file in
  the same folder is hard-linked to the final name, which fails when the name exists.

``local_file_path`` and ``s3_download_url`` serve the admin's download links of finished files.

``discard`` removes what an interrupted run may have left for a file (a stale multipart
upload or ``.part`` file, or a completed object whose run died before recording it): a file
under the final name only when it is that run's (its size, and on S3 the request id).
"""

import filecmp
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

import boto3
import botocore.session
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

PART_SIZE = 8 * 1024 * 1024  # also the size from which a file is uploaded in parts
CONCURRENCY = 4  # parts uploaded at once, and read into memory at once
CONTENT_TYPE = "application/gzip"
CREATE_ONLY_OPERATIONS = ("PutObject", "CompleteMultipartUpload")
DOWNLOAD_SECONDS = 300  # how long a presigned download link of the admin works


def _transfer_config() -> TransferConfig:
    config = TransferConfig(
        multipart_threshold=PART_SIZE,
        multipart_chunksize=PART_SIZE,
        max_concurrency=CONCURRENCY,
        preferred_transfer_client="classic",  # botocore's events; the CRT client skips them
    )
    # s3transfer reads each part of a file object into memory before sending it; by default
    # it holds up to 10. As many as are sent at once bound it to PART_SIZE × CONCURRENCY.
    config.max_in_memory_upload_chunks = CONCURRENCY
    return config


TRANSFER = _transfer_config()


class DestinationError(Exception):
    """Files cannot be written there; the message is shown as the export's error."""


class FileExistsAtDestination(DestinationError):
    """Another file holds the name; it was not overwritten."""


def _error_code(exc: Exception) -> str:
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""


def _create_only(params: dict, **kwargs) -> None:
    """botocore handler: make the write conditional on the key not existing."""
    params["IfNoneMatch"] = "*"


class _Sent:
    """Bytes the managed transfer reports sent (its parts call this from their threads; a
    retried request first reports its bytes back, negative)."""

    def __init__(self):
        self.bytes = 0
        self._lock = threading.Lock()

    def __call__(self, amount: int) -> None:
        with self._lock:
            self.bytes += amount


def _config() -> Config:
    return Config(
        retries={
            "max_attempts": settings.CDP_EXPORT_S3_MAX_ATTEMPTS,
            "mode": "standard",
        },
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
    params = {
        "RoleArn": role_arn,
        "RoleSessionName": session_name[:64],
        "DurationSeconds": 3600,
    }
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
                region=region,
                role_arn=role_arn,
                external_id=external_id,
                session_name=session_name,
            )
            self.client = session.client("s3", config=_config())
        except (BotoCoreError, ClientError) as exc:
            raise DestinationError(f"cannot get S3 credentials: {exc}") from exc
        for operation in CREATE_ONLY_OPERATIONS:  # this client's events only
            self.client.meta.events.register(f"before-parameter-build.s3.{operation}", _create_only)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    @contextmanager
    def temporary(self) -> Iterator[BinaryIO]:
        with tempfile.TemporaryFile(prefix="cdp-export-") as fileobj:
            yield fileobj

    def publish(self, fileobj: BinaryIO, key: str) -> int:
        """Upload ``fileobj`` to ``key`` unless the key exists; return the bytes uploaded, or
        raise ``DestinationError``. The managed transfer closes ``fileobj``."""
        size = fileobj.seek(0, os.SEEK_END)
        fileobj.seek(0)
        sent = _Sent()
        try:
            self.client.upload_fileobj(
                fileobj,
                self.bucket,
                key,
                ExtraArgs={
                    "ContentType": CONTENT_TYPE,
                    "Metadata": {"cdp-export": self.tag},
                },
                Callback=sent,
                Config=TRANSFER,
            )
        except (BotoCoreError, ClientError) as exc:
            if _error_code(exc) == "PreconditionFailed":
                return self._existing(size, key)
            raise DestinationError(
                f"S3 upload of {key} to bucket {self.bucket} failed: {exc}"
            ) from exc
        return sent.bytes

    def _existing(self, size: int, key: str) -> int:
        """S3 refused to overwrite ``key``: return its size if it is this export's own upload
        of ``size`` bytes, else raise ``FileExistsAtDestination``."""
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


def local_file_path(key: str) -> Path | None:
    """The path of the local export file ``key`` under ``CDP_EXPORT_DIR``, or None when the
    key would lead outside that folder or nothing is there."""
    root = Path(settings.CDP_EXPORT_DIR).resolve()
    path = (root / key).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def s3_download_url(
    *, bucket: str, key: str, filename: str, region: str, role_arn: str, external_id: str
) -> str:
    """A presigned GET URL (5 minutes) of the object, saved under ``filename`` by browsers;
    signed with the export's own credentials (its role, else the default chain)."""
    try:
        session = s3_session(
            region=region,
            role_arn=role_arn,
            external_id=external_id,
            session_name="cdp-export-download",
        )
        # SigV4: the only signature newer regions accept (boto3 may otherwise presign SigV2).
        config = _config().merge(Config(signature_version="s3v4"))
        return session.client("s3", config=config).generate_presigned_url(
            "get_object",
            Params={
                "Bucket": bucket,
                "Key": key,
                "ResponseContentDisposition": f'attachment; filename="{filename}"',
            },
            ExpiresIn=DOWNLOAD_SECONDS,
        )
    except (BotoCoreError, ClientError) as exc:
        raise DestinationError(f"cannot sign a download of {key}: {exc}") from exc
