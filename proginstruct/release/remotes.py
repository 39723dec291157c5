"""DVC remotes of the recipe (docs/datasets.md).

The committed ``.dvc/config`` names one default remote, ``local``: the folder
``proginstruct-dvc-storage`` beside the repository (``../proginstruct-dvc-storage`` seen from the
project root; DVC stores it as ``../../proginstruct-dvc-storage`` because it resolves relative URLs from
the ``.dvc`` folder). Every clone in the same parent folder shares it. Anything else (another folder,
S3, GCS, Azure) goes in the untracked ``.dvc/config.local`` so no bucket name or credential is committed.
"""

from __future__ import annotations

import os
import re

from ..errors import UserError
from .dvcops import set_remote

DEFAULT_REMOTE = "local"
DEFAULT_STORAGE = "../proginstruct-dvc-storage"  # relative to the project root
S3_REMOTE = "s3"
# S3-compatible bucket names: 3-63 of lowercase letters, digits, dots and hyphens (AWS rules, which
# MinIO, Ceph, R2 and moto accept as well)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def s3_url(bucket: str, prefix: str = "proginstruct") -> str:
    """``s3://<bucket>/<prefix>`` (no trailing slash; an empty prefix stores at the bucket's top).

    Raises :class:`UserError` for a bucket name S3 would refuse (given with ``s3://`` or a slash, say).
    """
    if not _BUCKET.fullmatch(bucket or ""):
        raise UserError(f"S3 bucket {bucket!r}: not a bucket name (3-63 lowercase letters, digits, '.', '-'; "
                        "no s3:// and no path); set PROGINSTRUCT_S3_BUCKET or --bucket to the bare name")
    prefix = prefix.strip("/")
    return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"


def configure_s3(root: str | os.PathLike, bucket: str, prefix: str = "proginstruct",
                 endpoint_url: str | None = None, name: str = S3_REMOTE, default: bool = True) -> str:
    """Add (or replace) remote ``name`` -> ``s3://bucket/prefix`` in ``<root>/.dvc/config.local``.

    ``endpoint_url`` (``http(s)://host:port``) points at an S3-compatible server (MinIO, Ceph, R2,
    moto); ``None`` removes a previous one (AWS itself, or ``AWS_ENDPOINT_URL_S3`` from the environment).
    With ``default`` the remote becomes this clone's default, so ``dvc push`` / ``make push`` /
    ``make release`` use it. Credentials are never written: boto3 reads ``AWS_ACCESS_KEY_ID`` /
    ``AWS_SECRET_ACCESS_KEY`` (or ``AWS_PROFILE``) at push/pull time. Needs the ``dvc-s3`` plugin.
    Returns the URL. Raises :class:`UserError` for a bad bucket or endpoint, or when DVC refuses.
    """
    url = s3_url(bucket, prefix)
    if endpoint_url and not re.match(r"https?://[^/\s]+", endpoint_url):
        raise UserError(f"S3 endpoint {endpoint_url!r}: expected http(s)://host[:port]; fix --endpoint-url or "
                        "PROGINSTRUCT_S3_ENDPOINT_URL")
    options = {"url": url, **({"endpointurl": endpoint_url} if endpoint_url else {})}
    set_remote(root, name, options, default)
    return url
