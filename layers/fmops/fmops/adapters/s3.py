import hashlib
from typing import Any

from botocore.exceptions import ClientError

from fmops.adapters import client, error_code
from fmops.errors import ArtifactStoreUnavailable

_CHUNK = 8 * 1024 * 1024
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


class S3ArtifactStore:
    def __init__(self, s3: Any = None) -> None:
        self._s3 = s3

    @property
    def s3(self) -> Any:
        return self._s3 or client("s3")

    def read(self, bucket: str, key: str, max_bytes: int) -> bytes:
        response = self.s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{max_bytes}")
        return bytes(response["Body"].read())

    def size_of(self, bucket: str, key: str) -> int | None:
        try:
            return int(self.s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
        except ClientError as error:
            if error_code(error) in _NOT_FOUND:
                return None
            raise ArtifactStoreUnavailable(f"cannot read s3://{bucket}/{key}: {error_code(error)}") from error

    def sha256_of(self, bucket: str, key: str) -> str:
        digest = hashlib.sha256()
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"]
        for chunk in body.iter_chunks(_CHUNK):
            digest.update(chunk)
        return digest.hexdigest()
