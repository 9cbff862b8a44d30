"""SigV4 for MLflow's client on the MLflow gateway's IAM route (API Gateway, ``execute-api``).

An MLflow request-auth provider (entry point ``mlflow.request_auth_provider``), selected with
``MLFLOW_TRACKING_AUTH=aws-sigv4`` (and ``MLFLOW_TRACKING_AWS_SIGV4`` unset: MLflow would use its own signer first).
Every request MLflow's client sends (tracking, registry, proxied artifacts) is signed with botocore's ``SigV4Auth``.

Before signing, the request's URL is written in the canonical form SigV4 expects, so that what is signed is what is
sent and what API Gateway recomputes:
- the path: every segment percent-encoded (RFC 3986: only ``A-Z a-z 0-9 - _ . ~`` stay as they are), so that
  botocore's second encoding of it is the canonical URI of a non-S3 service;
- the query: each name and value decoded as requests wrote it (form encoding: ``+`` is a space) and percent-encoded
  again with ``%20`` for a space, every repeated parameter kept, in the order MLflow sent them.
File bodies (artifact uploads) are hashed in chunks and rewound; a body that cannot be rewound is refused.

The credentials are resolved once (botocore's chain: environment, profile, container or instance role) and
``RefreshableCredentials`` renew themselves before they expire. The region is the one in the host name of an
``execute-api`` URL, else AWS_REGION, AWS_DEFAULT_REGION or the profile's, resolved once per host.
"""

from __future__ import annotations

import os
import re
import threading
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

import requests.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from mlflow.tracking.request_auth.abstract_request_auth_provider import RequestAuthProvider

PROVIDER_NAME = "aws-sigv4"
SERVICE = "execute-api"
#: https://<api id>.execute-api.<region>.amazonaws.com[.cn]
EXECUTE_API_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
#: Headers whose values the signature covers besides host and the x-amz-* headers botocore adds.
SIGNED_REQUEST_HEADERS = ("content-type",)
UNRESERVED = "-_.~"


def canonical_path(path: str) -> str:
    """The path with each segment decoded and percent-encoded again (RFC 3986 unreserved characters kept)."""
    return "/".join(quote(unquote(segment), safe=UNRESERVED) for segment in (path or "/").split("/"))


def canonical_query(query: str) -> str:
    """The query as requests wrote it (form encoding), every pair percent-encoded with %20, order and repeats kept."""
    pairs = parse_qsl(query, keep_blank_values=True)
    return "&".join(f"{quote(name, safe=UNRESERVED)}={quote(value, safe=UNRESERVED)}" for name, value in pairs)


def region_for(host: str, session=None) -> str:
    """The region to sign for: an execute-api host names it; otherwise the environment's or the profile's."""
    found = EXECUTE_API_HOST.match(host.split(":")[0].lower())
    if found:
        return found.group(1)
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if os.environ.get(variable):
            return os.environ[variable]
    configured = session.get_config_variable("region") if session is not None else None
    if configured:
        return configured
    raise RuntimeError(
        f"mlflow-sigv4: no region to sign requests to {host} with: the host is not an execute-api host name; "
        "set AWS_REGION (or AWS_DEFAULT_REGION) to the region of the MLflow gateway."
    )


class SigV4(requests.auth.AuthBase):
    """requests auth that signs for API Gateway (``execute-api``) with botocore's SigV4Auth."""

    def __init__(self, session=None) -> None:
        import botocore.session

        self._session = session or botocore.session.get_session()
        self._lock = threading.Lock()
        self._credentials = None
        self._regions: dict[str, str] = {}

    def credentials(self):
        with self._lock:
            if self._credentials is None:
                self._credentials = self._session.get_credentials()
                if self._credentials is None:
                    raise RuntimeError(
                        "mlflow-sigv4: no AWS credentials found (environment, profile, container or instance role): "
                        "MLflow's requests to the IAM route cannot be signed."
                    )
            return self._credentials

    def region(self, host: str) -> str:
        with self._lock:
            if host not in self._regions:
                self._regions[host] = region_for(host, self._session)
            return self._regions[host]

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        parts = urlsplit(request.url)
        url = urlunsplit((parts.scheme, parts.netloc, canonical_path(parts.path), canonical_query(parts.query), ""))
        request.url = url
        body = request.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif body is not None and not isinstance(body, (bytes, bytearray)):
            if not (hasattr(body, "seek") and hasattr(body, "tell") and hasattr(body, "read")):
                raise TypeError(f"mlflow-sigv4: cannot sign a body of type {type(body).__name__}: it must be bytes or a file")
        headers = {name: value for name, value in request.headers.items() if name.lower() in SIGNED_REQUEST_HEADERS}
        aws_request = AWSRequest(method=request.method, url=url, headers=headers, data=body)
        # Frozen per request: a refreshable credential renews itself when it is about to expire.
        frozen = self.credentials().get_frozen_credentials()
        SigV4Auth(frozen, SERVICE, self.region(parts.netloc)).add_auth(aws_request)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if name in aws_request.headers:
                request.headers[name] = aws_request.headers[name]
        return request


class SigV4RequestAuthProvider(RequestAuthProvider):
    """MLflow's ``RequestAuthProvider`` interface: MLflow asks ``get_auth()`` for every request; one signer serves all."""

    _auth: SigV4 | None = None
    _lock = threading.Lock()

    def get_name(self) -> str:
        return PROVIDER_NAME

    def get_auth(self) -> SigV4:
        with SigV4RequestAuthProvider._lock:
            if SigV4RequestAuthProvider._auth is None:
                SigV4RequestAuthProvider._auth = SigV4()
            return SigV4RequestAuthProvider._auth
