"""An async client of the Amazon Connect Participant Service ([protocol](protocol.md#rest-api)).

:class:`ParticipantClient` covers the 11 operations. It drives an
``httpx.AsyncBaseTransport`` directly (a pooled ``httpx.AsyncHTTPTransport`` by
default, or the one given, e.g. the emulator's in-memory transport) with prebuilt
``httpx.Request`` objects: no ``httpx.AsyncClient`` layers (cookies, auth, redirects,
URL and header merging) on the hot path, so a call costs little more CPU than the
transport itself (``benchmarks/bench_rest.py``).

Each call validates its input against the service model's constraints in one place
before anything is sent (:class:`~participant.errors.InvalidParameterError`; a token or
header value with CR/LF or non-ASCII characters included), authenticates with the
``X-Amz-Bearer`` header, fills ``ClientToken`` with a UUID when the caller gives none
(once per logical call: retries reuse it), and retries ThrottlingException, 5xx answers,
transient answers of something that is not the service (408, 429, 500, 502-504 without
``x-amzn-ErrorType``: :class:`~participant.errors.HTTPStatusError`) and transport errors
with exponential backoff and full jitter as the AWS SDKs' standard retry mode (longer
for throttling: :class:`RetryPolicy`; sleeps with ``trio.sleep`` so ``MockClock`` drives
them), honouring ``x-amz-retry-after`` and, on 429 and 503 answers, ``Retry-After``. Each
attempt has a total deadline and each response body a size cap; bodies are never
decompressed. At most ``max_in_flight`` requests of a client are on its transport at once
(100, the default pool's size); the others wait in the client (:data:`DEFAULT_MAX_IN_FLIGHT`).
:meth:`ParticipantClient.iter_transcript_pages` is the one, bounded, transcript pager.
The endpoint follows boto3's conventions (:func:`endpoint_for_region`).

Tokens are never logged and never appear in exception text.
"""

from __future__ import annotations

import datetime
import email.utils
import importlib.metadata
import json
import logging
import math
import os
import random as _random
import re
import socket
import ssl
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Self, TypeVar
from urllib.parse import quote, urlsplit

import attrs
import httpx
import trio

from ._backoff import backoff_cap, full_jitter_delay
from .errors import (
    CertificateError,
    ConnectError,
    HTTPStatusError,
    InvalidParameterError,
    ResponseTooLargeError,
    ServiceError,
    TimeoutException,
    TranscriptPagingError,
    TransportError,
    certificate_failure,
    describe_reached,
    error_from_response,
    scrub,
)
from .model import OPERATIONS, from_wire, to_wire
from .model.items import Item
from .model.operations import Operation, validate
from .model.shapes import (
    CompleteAttachmentUploadResponse,
    CreateParticipantConnectionResponse,
    DescribeViewResponse,
    GetAttachmentResponse,
    GetAuthenticationUrlResponse,
    GetTranscriptResponse,
    SendEventResponse,
    SendMessageResponse,
    StartAttachmentUploadResponse,
    StartPosition,
    UploadMetadata,
)

__all__ = [
    "DEFAULT_ATTEMPT_TIMEOUT",
    "DEFAULT_CONNECTION_TYPES",
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_DOWNLOAD_BYTES",
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_MAX_TRANSCRIPT_ITEMS",
    "DEFAULT_MAX_TRANSCRIPT_PAGES",
    "DEFAULT_TRANSFER_TIMEOUT",
    "USER_AGENT",
    "ParticipantClient",
    "RetryPolicy",
    "check_endpoint_url",
    "check_region",
    "default_transport",
    "endpoint_for_region",
    "retry_after_seconds",
]

log = logging.getLogger("participant.api")

T = TypeVar("T")
_Headers = Mapping[str, str] | Sequence[tuple[bytes, bytes]]

DEFAULT_CONNECTION_TYPES: Final = ("WEBSOCKET", "CONNECTION_CREDENTIALS")


def _version() -> str:
    try:
        return importlib.metadata.version("participant")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        return "0+unknown"


USER_AGENT: Final = f"participant/{_version()} httpx/{httpx.__version__}"
"""The ``User-Agent`` header of every request."""

DEFAULT_LIMITS: Final = httpx.Limits(
    max_connections=100, max_keepalive_connections=100, keepalive_expiry=30.0
)
"""Connection pool limits of the transport the client creates when given none: at most
100 connections, all of them kept alive up to 30 s idle. Keep-alive equals the maximum on
purpose: httpcore closes an idle connection whenever the pool holds more connections
than ``max_keepalive_connections`` (busy ones included), so with fewer a burst of
requests (many participants reconnecting at once) closes each connection as it finishes
and opens a new one (a TCP and a TLS handshake) for the next queued request: 300
connects instead of 100 for 900 requests 300 at a time (docs/benchmarks.md, Scale)."""

DEFAULT_MAX_IN_FLIGHT: Final = DEFAULT_LIMITS.max_connections
"""Requests one :class:`ParticipantClient` has on its transport at once by default (100,
the pool's ``max_connections``): the others wait their turn in the client, first come
first served, instead of in the connection pool's queue, which httpcore scans on every
release (quadratic in a burst: thousands of participants reconnecting at once)."""

DEFAULT_ATTEMPT_TIMEOUT: Final = 30.0
"""Seconds: the total deadline of one attempt of an operation (request sent and the
whole response read), on top of httpx's per-phase ``timeout``."""
DEFAULT_MAX_RESPONSE_BYTES: Final = 16 * 1024 * 1024
"""Bytes: the largest response body of an operation read (a GetTranscript page of 100
items of 16 KiB each, JSON-escaped, fits several times)."""
DEFAULT_TRANSFER_TIMEOUT: Final = 300.0
"""Seconds: the total deadline of one attempt of an attachment upload or download."""
DEFAULT_MAX_DOWNLOAD_BYTES: Final = 32 * 1024 * 1024
"""Bytes: the largest attachment download read (the service allows 20 MB per file)."""

DEFAULT_MAX_TRANSCRIPT_PAGES: Final = 1000
"""GetTranscript calls one :meth:`ParticipantClient.iter_transcript_pages` may make."""
DEFAULT_MAX_TRANSCRIPT_ITEMS: Final = 100_000
"""Items one :meth:`ParticipantClient.iter_transcript_pages` may return in all."""

_JSON_CONTENT_TYPE: Final = "application/json"
_BASE_HEADERS: Final = ((b"User-Agent", USER_AGENT.encode()), (b"Accept-Encoding", b"identity"))
_JSON_HEADERS: Final = (*_BASE_HEADERS, (b"Content-Type", _JSON_CONTENT_TYPE.encode()))
_RETRY_AFTER_STATUSES: Final = frozenset({429, 503})
# the error codes botocore's standard retry mode counts as throttling (ThrottledRetryableChecker);
# the Participant Service's own is ThrottlingException, storage (S3) answers SlowDown
_THROTTLING_CODES: Final = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException",
    "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
    "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
    "EC2ThrottledException",
})
_AMZ_RETRY_AFTER_MORE: Final = 5.0  # seconds an x-amz-retry-after may add to the drawn delay
_NOT_IN_BODY: Final = frozenset({"ConnectionToken", "ParticipantToken", "ViewToken"})
_OPS: Final = OPERATIONS
# one encoder/decoder for every call: json.dumps with separators= builds a new encoder
# per call (about 4 µs of a SendMessage)
_ENCODE: Final = json.JSONEncoder(separators=(",", ":")).encode
_DECODE: Final = json.JSONDecoder().decode


def _uuid4() -> str:
    """A random (version 4) UUID as text, as ``str(uuid.uuid4())`` but about 3 times
    cheaper (the ClientToken of every idempotent call)."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@attrs.frozen
class _Partition:
    name: str
    region_regex: re.Pattern[str]
    dns_suffix: str
    dual_stack_dns_suffix: str


# botocore's data/partitions.json (supportsFIPS and supportsDualStack are true for every
# partition); a test checks this table and endpoint_for_region against botocore's
# endpoint rule set of connectparticipant. The first partition is the default one.
_PARTITIONS: Final = tuple(
    _Partition(name, re.compile(regex), dns, dual)
    for name, regex, dns, dual in (
        ("aws", r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$", "amazonaws.com", "api.aws"),
        ("aws-cn", r"^cn\-\w+\-\d+$", "amazonaws.com.cn", "api.amazonwebservices.com.cn"),
        ("aws-eusc", r"^eusc\-(de)\-\w+\-\d+$", "amazonaws.eu", "api.amazonwebservices.eu"),
        ("aws-iso", r"^us\-iso\-\w+\-\d+$", "c2s.ic.gov", "api.aws.ic.gov"),
        ("aws-iso-b", r"^us\-isob\-\w+\-\d+$", "sc2s.sgov.gov", "api.aws.scloud"),
        ("aws-iso-e", r"^eu\-isoe\-\w+\-\d+$", "cloud.adc-e.uk", "api.cloud-aws.adc-e.uk"),
        ("aws-iso-f", r"^us\-isof\-\w+\-\d+$", "csp.hci.ic.gov", "api.aws.hci.ic.gov"),
        ("aws-us-gov", r"^us\-gov\-\w+\-\d+$", "amazonaws.com", "api.aws"),
    )
)
# the form of every AWS region name: letters, dash-separated words, a number at the end
_REGION_FORM: Final = re.compile(r"^[a-z]{2,6}(-[a-z]{1,16}){1,3}-[0-9]{1,2}$")


def _partition(region: str) -> _Partition:
    # as botocore's aws.partition: the first partition whose regex matches, else aws
    # (the regexes do not overlap: "\\w" matches no "-")
    for partition in _PARTITIONS:
        if partition.region_regex.match(region):
            return partition
    return _PARTITIONS[0]


def check_region(region: object, field: str = "region") -> str:
    """``region`` if it has the form of an AWS region name (``us-west-2``,
    ``us-gov-west-1``, ``cn-north-1``...).

    Raises:
        InvalidParameterError: naming ``field`` (e.g. ``"AWS_REGION"`` when the value came
            from there); the value is shown (a region is not a secret), at most 64
            characters.
    """
    if not isinstance(region, str) or not _REGION_FORM.match(region):
        shown = repr(region)[:64] if isinstance(region, str) else type(region).__name__
        raise InvalidParameterError(
            field,
            "an AWS region name such as us-west-2 (lower-case words and a number, "
            "dash-separated; for another endpoint give endpoint_url)",
            f"got {shown}",
        )
    return region


def endpoint_for_region(
    region: str, *, use_fips_endpoint: bool = False, use_dualstack_endpoint: bool = False
) -> str:
    """The service endpoint of ``region``, as botocore's endpoint rule set for
    connectparticipant gives it ([protocol](protocol.md#rest-api)):

    - ``https://participant.connect.{region}.{dnsSuffix}`` (``amazonaws.com``;
      ``amazonaws.com.cn`` in China...),
    - dual-stack (IPv4 and IPv6): ``https://participant.connect.{region}.api.aws``,
    - FIPS: ``https://participant.connect-fips.{region}.{dnsSuffix}`` (in GovCloud the
      regular endpoint, which is FIPS already), both: ``participant.connect-fips.{region}.api.aws``.

    Raises:
        InvalidParameterError: ``region`` does not have the form of a region name.
    """
    check_region(region)
    partition = _partition(region)
    suffix = partition.dual_stack_dns_suffix if use_dualstack_endpoint else partition.dns_suffix
    service = "participant.connect"
    if use_fips_endpoint and (use_dualstack_endpoint or partition.name != "aws-us-gov"):
        service = "participant.connect-fips"
    return f"https://{service}.{region}.{suffix}"


def check_endpoint_url(url: object, field: str = "endpoint_url") -> str:
    """``url`` without a trailing ``/`` if it is an absolute ``http://`` or ``https://``
    URL with a host (and optionally a port and a path prefix), as boto3 accepts.

    Raises:
        InvalidParameterError: naming ``field`` and what is wrong, e.g. for
            ``127.0.0.1:8080`` (no scheme), ``htp://x`` (unknown scheme), ``""``,
            ``http://[::1`` (unparsable).
    """
    if not isinstance(url, str):
        raise InvalidParameterError(
            field, "a URL string such as http://127.0.0.1:8080", f"got {type(url).__name__}"
        )
    limit = "an absolute http:// or https:// URL with a host, e.g. http://127.0.0.1:8080"
    shown = repr(url)[:80]
    if not url.strip():
        raise InvalidParameterError(field, limit, "got an empty string")
    if not _header_safe(url):
        raise InvalidParameterError(field, limit, "it has spaces, control or non-ASCII characters")
    try:
        parsed = httpx.URL(url)
        port = parsed.port
    except (httpx.InvalidURL, ValueError) as exc:
        raise InvalidParameterError(field, limit, f"got {shown}: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        if "://" not in url:
            hint = f"got {shown}: no scheme (did you mean http://{url}?)"
        else:
            hint = f"got {shown}: the scheme must be http or https"
        raise InvalidParameterError(field, limit, hint)
    if not parsed.host:
        raise InvalidParameterError(field, limit, f"got {shown}: no host")
    if port is not None and not 1 <= port <= 65535:
        raise InvalidParameterError(field, limit, f"got {shown}: port out of 1..65535")
    if parsed.query or parsed.fragment or parsed.userinfo:
        raise InvalidParameterError(
            field, limit, "it has a query, fragment or user name: give only scheme, host, "
            "port and path"
        )
    return url.rstrip("/")


def _flag(value: bool | None, env: str) -> bool:
    if value is not None:
        return value
    return os.environ.get(env, "").strip().lower() == "true"


def _resolve_endpoint(
    region: str | None,
    endpoint_url: str | None,
    use_fips_endpoint: bool | None,
    use_dualstack_endpoint: bool | None,
) -> tuple[str, str | None, str]:
    """(endpoint URL, region, where it came from), in boto3's order."""
    fips = _flag(use_fips_endpoint, "AWS_USE_FIPS_ENDPOINT")
    dual = _flag(use_dualstack_endpoint, "AWS_USE_DUALSTACK_ENDPOINT")
    source = "endpoint_url"
    if endpoint_url is None and os.environ.get(
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", ""
    ).strip().lower() != "true":
        for name in ("AWS_ENDPOINT_URL_CONNECTPARTICIPANT", "AWS_ENDPOINT_URL"):
            if os.environ.get(name):
                endpoint_url, source = os.environ[name], name
                break
    region_source = "region"
    if region is None:
        for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
            if os.environ.get(name):
                region, region_source = os.environ[name], name
                break
    if endpoint_url is not None:
        url = check_endpoint_url(endpoint_url, source)
        for on, option in ((fips, "use_fips_endpoint"), (dual, "use_dualstack_endpoint")):
            if on:
                raise InvalidParameterError(
                    option, f"False with a custom endpoint ({source})",
                    "the endpoint rule set supports FIPS and dual-stack only by region",
                )
        return url, region, f"{source} {url}"
    if region is None:
        raise InvalidParameterError(
            "region",
            "given (or endpoint_url; or AWS_REGION / AWS_DEFAULT_REGION / "
            "AWS_ENDPOINT_URL_CONNECTPARTICIPANT / AWS_ENDPOINT_URL in the environment)",
        )
    check_region(region, region_source)
    url = endpoint_for_region(region, use_fips_endpoint=fips, use_dualstack_endpoint=dual)
    return url, region, f"{region_source} {region}: {url}"


def _positive(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise InvalidParameterError(attribute.name, ">= 0", f"got {value}")


def _at_least_one(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if value < 1:
        raise InvalidParameterError(attribute.name, ">= 1", f"got {value}")


@attrs.frozen
class RetryPolicy:
    """Retries of throttled (429), failed (5xx) and network-failed requests, with the
    backoff of the AWS SDKs' standard retry mode (botocore's ``ExponentialBackoff``).

    Attributes:
        max_attempts: total attempts per call, first one included (>= 1).
        base_delay: seconds; after a failure that is not throttling (a 5xx, a network
            error, a timeout) the cap of the n-th retry's delay is
            ``min(max_delay, base_delay * 2 ** (n - 1))``: 0.05, 0.1, 0.2 s by default.
        max_delay: seconds; the largest cap (20, the SDKs').
        throttling_base_delay: seconds; the same for throttling (HTTP 429 or
            ThrottlingException): 1, 2, 4 s by default, the SDKs' throttling scale, so
            that a crowd throttled at once (many participants reconnecting) spreads out.

    The delay is drawn uniformly from ``[0, cap)`` ("full jitter", as the SDKs), except
    when the answer says how long to wait: an ``x-amz-retry-after`` header (milliseconds,
    as the SDKs read it) makes it that long, but at least the drawn delay and at most 5 s
    more; a ``Retry-After`` header on a 429 or 503 answer (seconds or HTTP-date) makes it
    the header's, at most ``max_delay``. Not the SDKs': ``max_attempts`` is 4 (theirs 3),
    and there is no retry quota.
    """

    max_attempts: int = attrs.field(default=4, validator=_at_least_one)
    base_delay: float = attrs.field(default=0.05, validator=_positive)
    max_delay: float = attrs.field(default=20.0, validator=_positive)
    throttling_base_delay: float = attrs.field(default=1.0, validator=_positive)

    def cap(self, retry: int, *, throttled: bool = False) -> float:
        """The upper bound (seconds) of the delay before retry number ``retry`` (1-based)
        after a throttling answer (``throttled``) or another failure."""
        base = self.throttling_base_delay if throttled else self.base_delay
        return backoff_cap(retry - 1, initial=base, multiplier=2.0, maximum=self.max_delay)

    def delay(
        self, retry: int, random: Callable[[], float], *, throttled: bool = False
    ) -> float:
        """The delay (seconds) before retry number ``retry``, ``random() * cap``;
        ``random()`` in [0, 1)."""
        base = self.throttling_base_delay if throttled else self.base_delay
        return full_jitter_delay(
            retry - 1, initial=base, multiplier=2.0, maximum=self.max_delay, rng=_Draw(random)
        )


class _Draw:
    """A :class:`~participant._backoff.RandomSource` over a function."""

    __slots__ = ("random",)

    def __init__(self, random: Callable[[], float]) -> None:
        self.random = random


def _network_reason(exc: BaseException, url: str | httpx.URL) -> str:
    """What went wrong reaching ``url``, for humans: the unknown host, the refused port,
    TLS spoken to a plain-HTTP port... (names the host; never a token)."""
    parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    where = f"{parsed.host}:{parsed.port or (443 if parsed.scheme == 'https' else 80)}"
    name = type(exc).__name__
    pending: list[BaseException] = [exc]
    seen = 0
    while pending and seen < 32:
        cause = pending.pop(0)
        seen += 1
        if isinstance(cause, socket.gaierror):
            return f"{name}: cannot resolve the host name {parsed.host!r} ({cause.strerror})"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return (
                f"{name}: the TLS certificate of {where} is not trusted "
                f"({cause.verify_message}); is it the service's endpoint?"
            )
        if isinstance(cause, ssl.SSLError):
            hint = ""
            if parsed.scheme == "https" and cause.reason in (
                "WRONG_VERSION_NUMBER",
                "HTTP_REQUEST",
                "RECORD_LAYER_FAILURE",
                "PACKET_LENGTH_TOO_LONG",
            ):
                hint = (
                    f": {where} does not speak TLS; the endpoint URL says https://, "
                    "is it an http:// port?"
                )
            return f"{name}: TLS handshake with {where} failed ({cause.reason}){hint}"
        if isinstance(cause, ConnectionRefusedError):
            return f"{name}: connection refused by {where} (nothing listening?)"
        if isinstance(cause, BaseExceptionGroup):
            pending.extend(cause.exceptions)
        for nested in (cause.__cause__, cause.__context__):
            if nested is not None:
                pending.append(nested)
    text = str(exc)
    if isinstance(exc, httpx.ConnectError):
        return f"{name}: cannot connect to {where}" + (f" ({text})" if text else "")
    return f"{name} with {where}" + (f": {text}" if text else "")


def _host(url: str | httpx.URL) -> str:
    return url.host if isinstance(url, httpx.URL) else urlsplit(url).hostname or ""


def _code(error: ServiceError | HTTPStatusError) -> str:
    return error.code if isinstance(error, ServiceError) else "HTTPStatusError"


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """The delay (seconds, >= 0) a ``Retry-After`` header value asks for, or None.

    Accepts delta-seconds (``"3"``, also fractional ``"0.5"``) and an HTTP-date
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``, relative to ``now``, epoch seconds, default
    ``time.time()``); None for an absent or unreadable value (RFC 9110 §10.2.3).
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000": UTC as well (RFC 5322 §3.3)
            when = when.replace(tzinfo=datetime.UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _amz_retry_after(value: str | None) -> float | None:
    """Seconds from an ``x-amz-retry-after`` header (whole milliseconds >= 0, as botocore
    reads it), or None for an absent or unreadable one."""
    if value is None:
        return None
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 12:  # "-5", "1.5", "" too
        return None
    return int(value) / 1000.0


def _environment_proxy(url: str) -> str | None:
    """The proxy URL the environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``,
    ``NO_PROXY``) names for ``url``, as ``httpx.AsyncClient(trust_env=True)`` would."""
    proxies = urllib.request.getproxies()
    parts = urlsplit(url)
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or not parts.hostname:
        return None
    if urllib.request.proxy_bypass(parts.hostname):  # NO_PROXY (and OS settings)
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def default_transport(endpoint_url: str) -> httpx.AsyncHTTPTransport:
    """The transport :class:`ParticipantClient` builds when given none: HTTP/1.1 over a
    pool of :data:`DEFAULT_LIMITS`, no transport-level retries (the client retries), and
    the proxy the environment names for ``endpoint_url`` (``HTTPS_PROXY`` ...,
    ``NO_PROXY``). For wrapping it (e.g. the fleet's pacing) without changing it."""
    return httpx.AsyncHTTPTransport(
        http1=True,
        http2=False,
        limits=DEFAULT_LIMITS,
        retries=0,
        proxy=_environment_proxy(endpoint_url),
    )


class ParticipantClient:
    """Async client of the Participant Service's 11 operations.

    Use as ``async with ParticipantClient(region="us-west-2") as client: ...`` or call
    :meth:`aclose`.

    Args:
        region: AWS region (form checked: :func:`check_region`); the endpoint is
            :func:`endpoint_for_region`, e.g. ``https://participant.connect.us-west-2.amazonaws.com``.
            Default: ``AWS_REGION``, else ``AWS_DEFAULT_REGION``.
        endpoint_url: explicit base URL (e.g. the emulator's, checked:
            :func:`check_endpoint_url`), wins over ``region``. Default, as boto3:
            ``AWS_ENDPOINT_URL_CONNECTPARTICIPANT``, else ``AWS_ENDPOINT_URL`` (both
            ignored when ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true``).
        use_fips_endpoint: the FIPS endpoint of the region
            (``participant.connect-fips.{region}.amazonaws.com``); default from
            ``AWS_USE_FIPS_ENDPOINT`` (``true``). Not with a custom endpoint URL (as
            botocore's rule set).
        use_dualstack_endpoint: the dual-stack (IPv4 and IPv6) endpoint of the region
            (``participant.connect.{region}.api.aws``; with ``use_fips_endpoint``:
            ``participant.connect-fips.{region}.api.aws``); default from
            ``AWS_USE_DUALSTACK_ENDPOINT`` (``true``). Not with a custom endpoint URL.
        transport: an ``httpx.AsyncBaseTransport`` (e.g. the emulator's in-memory one, or
            an ``httpx.AsyncHTTPTransport`` with your own TLS, proxy or pool settings).
            **It stays yours**: :meth:`aclose` does not close it, so one transport may
            serve several clients; close it yourself when done. When omitted the client
            creates (and :meth:`aclose` closes) an ``httpx.AsyncHTTPTransport`` with
            :data:`DEFAULT_LIMITS`, HTTP/1.1, no transport-level retries (the
            :class:`RetryPolicy` retries), TLS verification from the environment
            (``SSL_CERT_FILE``...) and the environment's proxy for ``endpoint_url``
            (``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` unless ``NO_PROXY`` excludes it).
            Every request of the client, attachment uploads and downloads included, goes
            through this one transport.
        retry: the :class:`RetryPolicy`.
        timeout: seconds for each of connect/read/write/pool of one attempt (or an
            ``httpx.Timeout`` giving them separately).
        random: the jitter source, a function returning floats in [0, 1) (tests inject
            a deterministic one); default ``random.random``.
        attempt_timeout: seconds (> 0): the total deadline of one attempt of an
            operation, request sent and whole response read (:data:`DEFAULT_ATTEMPT_TIMEOUT`);
            an attempt over it is retried like a network failure, the last one raises
            :class:`~participant.errors.TimeoutException`.
        max_response_bytes: the largest response body of an operation
            (:data:`DEFAULT_MAX_RESPONSE_BYTES`); a larger one raises
            :class:`~participant.errors.ResponseTooLargeError` at once (not retried).
        transfer_timeout: seconds (> 0): the same as ``attempt_timeout`` for one attempt
            of an attachment upload or download (:data:`DEFAULT_TRANSFER_TIMEOUT`).
        max_download_bytes: the largest attachment download (bytes,
            :data:`DEFAULT_MAX_DOWNLOAD_BYTES`); a larger one raises
            :class:`~participant.errors.ResponseTooLargeError` at once.
        max_in_flight: most requests of this client on the transport at once (an integer
            >= 1, or None: no bound); default :data:`DEFAULT_MAX_IN_FLIGHT`, the default
            pool's 100 connections (give your transport's ``max_connections``, and divide
            it when several clients share one transport). Each attempt takes a slot for
            its request and response and gives it back before any backoff sleep, so a
            retrying call never holds one while it waits. Further requests wait in the
            client, first come first served; the wait is part of the attempt: bounded by
            ``attempt_timeout`` and by the ``pool`` timeout (as httpx's wait for a pooled
            connection: ``httpx.PoolTimeout``, retried like any timeout). A transport that
            waits inside ``handle_async_request`` (pacing, as the fleet's
            :class:`~participant.fleet.PacedTransport`) holds its slot while it waits:
            give it None, or bound the requests below the waiting.

    Bodies are read raw: every request sends ``Accept-Encoding: identity`` and a
    response with another ``Content-Encoding`` is refused
    (:class:`~participant.errors.HTTPStatusError`), never decompressed.

    Attributes ``endpoint_url``, ``region`` (``None`` if unknown) and
    ``endpoint_source`` (e.g. ``"AWS_REGION eu-west-2: https://participant.connect...."``
    or ``"AWS_ENDPOINT_URL http://127.0.0.1:8080"``) say which endpoint is used and why.

    Every request carries ``User-Agent:`` :data:`USER_AGENT`; operations add
    ``X-Amz-Bearer`` and, with a body, ``Content-Type: application/json``. Redirects are
    not followed and no cookies are kept.

    Raises (from every operation):
        InvalidParameterError: the input breaks a constraint of the model; nothing sent.
        ServiceError: a subclass per service error (AccessDeniedException, ...), raised
            at once or, for retryable ones, when attempts are exhausted. Only an answer
            naming its error (``x-amzn-ErrorType`` or ``__type``) is one.
        HTTPStatusError: something that is not the service answered (a bare 403, a
            proxy's 407, an HTML 200...); transient ones (408, 429, 500, 502-504) after
            the attempts.
        ConnectError, TimeoutException: every attempt failed to connect / ran out of time.
        ResponseTooLargeError: a body over ``max_response_bytes`` (not retried).
        TransportError: the network failed otherwise on every attempt (the base class
            of the four above).
        RuntimeError: the client was closed.
    """

    def __init__(
        self,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy = RetryPolicy(),
        timeout: float | httpx.Timeout = 10.0,
        random: Callable[[], float] | None = None,
        use_fips_endpoint: bool | None = None,
        use_dualstack_endpoint: bool | None = None,
        attempt_timeout: float = DEFAULT_ATTEMPT_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        transfer_timeout: float = DEFAULT_TRANSFER_TIMEOUT,
        max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
        max_in_flight: int | None = DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        for name, seconds in (
            ("attempt_timeout", attempt_timeout),
            ("transfer_timeout", transfer_timeout),
        ):
            if not (isinstance(seconds, (int, float)) and seconds > 0):
                raise InvalidParameterError(name, "a number of seconds > 0", f"got {seconds!r}")
        for name, size in (
            ("max_response_bytes", max_response_bytes),
            ("max_download_bytes", max_download_bytes),
        ):
            if not (isinstance(size, int) and not isinstance(size, bool) and size >= 1):
                raise InvalidParameterError(name, "an integer >= 1 (bytes)", f"got {size!r}")
        if max_in_flight is not None and not (
            isinstance(max_in_flight, int) and not isinstance(max_in_flight, bool)
            and max_in_flight >= 1
        ):
            raise InvalidParameterError(
                "max_in_flight", "an integer >= 1 or None", f"got {max_in_flight!r}"
            )
        self.max_in_flight: int | None = max_in_flight
        self._slots = None if max_in_flight is None else trio.Semaphore(max_in_flight)
        self.attempt_timeout: float = attempt_timeout
        self.max_response_bytes: int = max_response_bytes
        self.transfer_timeout: float = transfer_timeout
        self.max_download_bytes: int = max_download_bytes
        self.endpoint_url: str
        self.region: str | None
        self.endpoint_url, self.region, self.endpoint_source = _resolve_endpoint(
            region, endpoint_url, use_fips_endpoint, use_dualstack_endpoint
        )
        self.retry = retry
        self._random = random or _random.random
        # absolute URLs of the fixed operation paths, built once (cheaper per call)
        self._urls: dict[str, httpx.URL] = {
            op.path: httpx.URL(self.endpoint_url + op.path)
            for op in _OPS.values()
            if "{" not in op.path
        }
        # the per-attempt timeouts, as httpx transports read them from request extensions
        timeouts = httpx.Timeout(timeout)
        self._extensions: dict[str, Any] = {"timeout": timeouts.as_dict()}
        self._pool_timeout = math.inf if timeouts.pool is None else timeouts.pool
        self._owns_transport = transport is None
        self._transport: httpx.AsyncBaseTransport = transport or default_transport(
            self.endpoint_url
        )
        self._closed = False

    def __repr__(self) -> str:
        return f"ParticipantClient(endpoint_url={self.endpoint_url!r}, region={self.region!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client: its own transport's connections are closed (a transport
        given to the constructor is left open: it belongs to the caller). The client
        cannot be used afterwards; calling ``aclose`` again does nothing."""
        if self._closed:
            return
        self._closed = True
        if self._owns_transport:
            await self._transport.aclose()

    # ------------------------------------------------------------------ plumbing

    async def _attempt(
        self,
        operation: str,
        method: str,
        url: str | httpx.URL,
        content: bytes | None,
        headers: _Headers,
        transfer: bool,
    ) -> tuple[httpx.Response, bytes]:
        """One request on the transport, within the attempt's total deadline; returns
        the response and its whole body (raw bytes, never decoded)."""
        if self._closed:
            raise RuntimeError("ParticipantClient is closed")
        request = httpx.Request(
            method, url, content=content, headers=headers, extensions=self._extensions
        )
        if transfer:
            deadline, limit, setting = (
                self.transfer_timeout,
                self.max_download_bytes,
                "max_download_bytes",
            )
        else:
            deadline, limit, setting = (
                self.attempt_timeout,
                self.max_response_bytes,
                "max_response_bytes",
            )
        scope = trio.CancelScope(deadline=trio.current_time() + deadline)
        with scope:
            slots = self._slots
            if slots is not None:
                await self._take_slot(slots)
            try:
                response = await self._transport.handle_async_request(request)
                try:
                    body = await self._read(operation, url, response, limit, setting)
                finally:
                    await response.aclose()
                return response, body
            finally:
                if slots is not None:
                    slots.release()
        raise trio.TooSlowError  # the scope was cancelled by its deadline

    async def _take_slot(self, slots: trio.Semaphore) -> None:
        """One of the ``max_in_flight`` slots, waiting (FIFO) at most the pool timeout."""
        try:
            slots.acquire_nowait()  # the common case: no checkpoint, as without a bound
            return
        except trio.WouldBlock:
            pass
        with trio.move_on_after(self._pool_timeout):
            await slots.acquire()
            return
        raise httpx.PoolTimeout(
            f"no free request slot within {self._pool_timeout:g} s "
            f"(max_in_flight={self.max_in_flight} requests on the transport)"
        )

    @staticmethod
    async def _read(
        operation: str, url: str | httpx.URL, response: httpx.Response, limit: int, setting: str
    ) -> bytes:
        """The raw body of ``response``, at most ``limit`` bytes, refused if compressed."""
        for key, value in response.headers.raw:  # one pass, no decoding
            key = key.lower()
            if key == b"content-length":
                if value.isdigit() and int(value) > limit:
                    raise ResponseTooLargeError(operation, limit, setting)
            elif key == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
                encoding = value.decode("ascii", "replace")[:32]
                raise HTTPStatusError(
                    response.status_code,
                    operation=operation,
                    reached=describe_reached(_host(url), response.headers),
                    problem=(
                        f"the body is compressed (Content-Encoding {encoding!r}) although "
                        "the request asked for identity"
                    ),
                )
        if response.is_stream_consumed:  # a transport that read the body itself
            body = response.content
            if len(body) > limit:
                raise ResponseTooLargeError(operation, limit, setting)
            return body
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_raw():
            size += len(chunk)
            if size > limit:
                raise ResponseTooLargeError(operation, limit, setting)
            chunks.append(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _send(
        self,
        operation: str,
        method: str,
        url: str | httpx.URL,
        content: bytes | None,
        headers: _Headers,
        secrets: Sequence[str | None],
        transfer: bool = False,
    ) -> tuple[httpx.Response, bytes]:
        """Send with retries; return the 2xx response and its body, or raise."""
        policy = self.retry
        attempt = 1
        while True:
            retry_after: float | None = None
            sdk_retry_after: float | None = None
            throttled = False
            try:
                response, body = await self._attempt(
                    operation, method, url, content, headers, transfer
                )
            except (httpx.TransportError, trio.TooSlowError) as exc:
                if isinstance(exc, trio.TooSlowError):
                    deadline = self.transfer_timeout if transfer else self.attempt_timeout
                    reason = f"no complete answer from {_host(url)} within {deadline:g} s"
                else:
                    cert = certificate_failure(exc)
                    if cert is not None:
                        raise CertificateError(
                            f"{operation}: the TLS certificate of {_host(url)} failed "
                            f"verification: {cert.verify_message or cert.reason}"
                        ) from exc
                    reason = _network_reason(exc, url)
                if attempt >= policy.max_attempts:
                    timed_out = isinstance(exc, (trio.TooSlowError, httpx.TimeoutException))
                    cls: type[TransportError] = (
                        TimeoutException
                        if timed_out
                        else ConnectError
                        if isinstance(exc, httpx.ConnectError)
                        else TransportError
                    )
                    raise cls(
                        scrub(
                            f"{operation}: network error after {attempt} attempt(s): {reason}",
                            secrets,
                        )
                    ) from exc
                reason = scrub(reason, secrets)
            else:
                status = response.status_code
                if status < 300:
                    if attempt > 1 or log.isEnabledFor(logging.DEBUG):
                        log.debug("%s: HTTP %d (attempt %d)", operation, status, attempt)
                    return response, body
                error = error_from_response(
                    status,
                    response.headers,
                    body,
                    operation=operation,
                    host=_host(url),
                    secrets=secrets,
                )
                if not error.retryable or attempt >= policy.max_attempts:
                    log.debug("%s: %s after %d attempt(s)", operation, _code(error), attempt)
                    raise error
                reason = f"{_code(error)} (HTTP {status})"
                throttled = status == 429 or _code(error) in _THROTTLING_CODES
                sdk_retry_after = _amz_retry_after(response.headers.get("x-amz-retry-after"))
                if status in _RETRY_AFTER_STATUSES:
                    retry_after = retry_after_seconds(response.headers.get("retry-after"))
            delay = policy.delay(attempt, self._random, throttled=throttled)
            if sdk_retry_after is not None:  # as the SDKs: [drawn, drawn + 5 s]
                delay = max(delay, min(sdk_retry_after, delay + _AMZ_RETRY_AFTER_MORE))
                reason += f", x-amz-retry-after {sdk_retry_after:g} s"
            elif retry_after is not None:
                delay = min(policy.max_delay, retry_after)
                reason += f", Retry-After {retry_after:g} s"
            log.info("%s: %s; retry %d in %.3f s", operation, reason, attempt, delay)
            await trio.sleep(delay)
            attempt += 1

    async def _call(self, op: Operation, params: dict[str, Any], token_member: str) -> Any:
        """Validate ``params`` (wire names) against the model, the one place input is
        checked, then send ``op`` with retries and decode its response."""
        validate(op, params)
        token: str = params[token_member]
        url = self._urls.get(op.path) or httpx.URL(self.endpoint_url + _expand(op, params))
        # prebuilt byte headers (Host and Content-Length given: httpx adds nothing);
        # the token is printable ASCII (validated)
        content: bytes | None = None
        if op.method != "GET":
            body = {k: v for k, v in params.items() if v is not None and k not in _NOT_IN_BODY}
            content = _ENCODE(body).encode()
            headers = [
                (b"Host", url.netloc),
                *_JSON_HEADERS,
                (b"Content-Length", b"%d" % len(content)),
                (b"X-Amz-Bearer", token.encode("ascii")),
            ]
        else:
            headers = [
                (b"Host", url.netloc),
                *_BASE_HEADERS,
                (b"X-Amz-Bearer", token.encode("ascii")),
            ]
        response, raw = await self._send(op.name, op.method, url, content, headers, (token,))
        if not raw:
            return from_wire(op.response, {})
        try:
            data = _DECODE(raw.decode())
        except ValueError:  # UnicodeDecodeError included
            data = None
        if not isinstance(data, dict):
            raise HTTPStatusError(
                response.status_code,
                operation=op.name,
                reached=describe_reached(url.host, response.headers),
                problem=f"the body is not the JSON object {op.name} returns",
            )
        return from_wire(op.response, data)

    # ------------------------------------------------------------------ operations

    async def create_participant_connection(
        self,
        participant_token: str,
        *,
        type: Sequence[str] = DEFAULT_CONNECTION_TYPES,
        connect_participant: bool | None = None,
    ) -> CreateParticipantConnectionResponse:
        """CreateParticipantConnection: a websocket URL and/or a ConnectionToken.

        Args:
            participant_token: from StartChatContact (sent as ``X-Amz-Bearer``).
            type: subset of WEBSOCKET, CONNECTION_CREDENTIALS, WEBRTC_CONNECTION (≥ 1).
            connect_participant: acknowledge the connection (replaces the deprecated
                connection.acknowledged event).

        Returns: ``websocket`` (url to open within 100 s, connection_expiry) and
        ``connection_credentials`` (connection_token, expiry ~1 day).
        """
        params = {
            "Type": list(type) if isinstance(type, (list, tuple)) else type,
            "ParticipantToken": participant_token,
            "ConnectParticipant": connect_participant,
        }
        result: CreateParticipantConnectionResponse = await self._call(
            _OPS["CreateParticipantConnection"], params, "ParticipantToken"
        )
        return result

    async def send_message(
        self,
        connection_token: str,
        *,
        content_type: str,
        content: str,
        client_token: str | None = None,
    ) -> SendMessageResponse:
        """SendMessage: post a message (``content``: 1..16384 characters and at most
        16384 bytes of UTF-8, the limit the SendMessage API reference gives).

        ``content_type``: text/plain, text/markdown, application/json or an interactive
        type (:class:`participant.model.ContentType`). ``client_token`` (≤ 500 chars) is
        the idempotency key; a UUID when omitted. Returns the item's ``id`` and
        ``absolute_time``.

        Raises:
            InvalidParameterError: a field out of its limits (nothing is sent).
        """
        params = {
            "ContentType": content_type,
            "Content": content,
            "ClientToken": _uuid4() if client_token is None else client_token,
            "ConnectionToken": connection_token,
        }
        result: SendMessageResponse = await self._call(
            _OPS["SendMessage"], params, "ConnectionToken"
        )
        return result

    async def send_event(
        self,
        connection_token: str,
        *,
        content_type: str,
        content: str | None = None,
        client_token: str | None = None,
    ) -> SendEventResponse:
        """SendEvent: typing, receipts (``content`` ``{"messageId": ...}``) and other events.

        Raises ConflictException for receipts in chats with more than two participants.
        """
        params = {
            "ContentType": content_type,
            "Content": content,
            "ClientToken": _uuid4() if client_token is None else client_token,
            "ConnectionToken": connection_token,
        }
        result: SendEventResponse = await self._call(_OPS["SendEvent"], params, "ConnectionToken")
        return result

    async def get_transcript(
        self,
        connection_token: str,
        *,
        contact_id: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
        scan_direction: str | None = None,
        sort_order: str | None = None,
        start_position: StartPosition | None = None,
    ) -> GetTranscriptResponse:
        """GetTranscript: one page of items ([protocol](protocol.md#gettranscript)).

        ``max_results`` 0..100 (service default 10); ``scan_direction`` FORWARD | BACKWARD;
        ``sort_order`` ASCENDING | DESCENDING; ``start_position`` with exactly one of
        id, absolute_time, most_recent (0..100). The returned ``transcript`` holds typed
        items; ``next_token`` is absent or ``""`` on the last page.
        """
        params = {
            "ContactId": contact_id,
            "MaxResults": max_results,
            "NextToken": next_token,
            "ScanDirection": scan_direction,
            "SortOrder": sort_order,
            "StartPosition": None if start_position is None else _start_position(start_position),
            "ConnectionToken": connection_token,
        }
        result: GetTranscriptResponse = await self._call(
            _OPS["GetTranscript"], params, "ConnectionToken"
        )
        return result

    async def iter_transcript_pages(
        self,
        connection_token: str,
        *,
        contact_id: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
        scan_direction: str | None = None,
        sort_order: str | None = None,
        start_position: StartPosition | None = None,
        max_pages: int = DEFAULT_MAX_TRANSCRIPT_PAGES,
        max_items: int = DEFAULT_MAX_TRANSCRIPT_ITEMS,
    ) -> AsyncIterator[GetTranscriptResponse]:
        """Yield GetTranscript pages ([protocol](protocol.md#gettranscript)), following
        ``NextToken``; the one transcript pager of the library.

        Starts at ``next_token`` (or the first page) and stops after the page whose
        ``NextToken`` is absent or ``""``. The other arguments are sent with every page,
        as :meth:`get_transcript`'s.

        Args:
            max_pages: at most this many GetTranscript calls (>= 1;
                :data:`DEFAULT_MAX_TRANSCRIPT_PAGES`).
            max_items: at most this many items in all pages together (>= 0;
                :data:`DEFAULT_MAX_TRANSCRIPT_ITEMS`).

        Raises:
            TranscriptPagingError: the service returned a NextToken already followed in
                this call (a repeated or cycling token), or more pages than
                ``max_pages`` / items than ``max_items`` would be needed. Pages before
                the error have been yielded.
            InvalidParameterError, ServiceError, TransportError: as :meth:`get_transcript`.
        """
        if not (isinstance(max_pages, int) and max_pages >= 1):
            raise InvalidParameterError("max_pages", "an integer >= 1", f"got {max_pages!r}")
        if not (isinstance(max_items, int) and max_items >= 0):
            raise InvalidParameterError("max_items", "an integer >= 0", f"got {max_items!r}")
        followed: set[str] = set()
        if next_token:
            followed.add(next_token)
        else:
            next_token = None
        pages = items = 0
        while True:
            page = await self.get_transcript(
                connection_token,
                contact_id=contact_id,
                max_results=max_results,
                next_token=next_token,
                scan_direction=scan_direction,
                sort_order=sort_order,
                start_position=start_position,
            )
            pages += 1
            received = items + len(page.transcript or ())
            if received > max_items:
                raise TranscriptPagingError(
                    "max_items",
                    pages=pages,
                    items=received,
                    detail=f"more than max_items ({max_items}) items",
                )
            items = received
            yield page
            next_token = page.next_token or None
            if next_token is None:
                return
            if next_token in followed:
                raise TranscriptPagingError(
                    "repeated_token",
                    pages=pages,
                    items=items,
                    detail="the service returned a NextToken already followed (a paging cycle)",
                )
            if pages >= max_pages:
                raise TranscriptPagingError(
                    "max_pages",
                    pages=pages,
                    items=items,
                    detail=f"more than max_pages ({max_pages}) pages would be needed",
                )
            followed.add(next_token)

    async def iter_transcript(
        self,
        connection_token: str,
        *,
        contact_id: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
        scan_direction: str | None = None,
        sort_order: str | None = None,
        start_position: StartPosition | None = None,
        max_pages: int = DEFAULT_MAX_TRANSCRIPT_PAGES,
        max_items: int = DEFAULT_MAX_TRANSCRIPT_ITEMS,
    ) -> AsyncIterator[Item]:
        """Yield the items of every GetTranscript page, in the order the pages give them
        (:meth:`iter_transcript_pages`, with its bounds and errors)."""
        async for page in self.iter_transcript_pages(
            connection_token,
            contact_id=contact_id,
            max_results=max_results,
            next_token=next_token,
            scan_direction=scan_direction,
            sort_order=sort_order,
            start_position=start_position,
            max_pages=max_pages,
            max_items=max_items,
        ):
            for item in page.transcript or ():
                yield item

    async def disconnect_participant(
        self, connection_token: str, *, client_token: str | None = None
    ) -> None:
        """DisconnectParticipant: leave the chat (the ConnectionToken stops working)."""
        params = {
            "ClientToken": _uuid4() if client_token is None else client_token,
            "ConnectionToken": connection_token,
        }
        await self._call(_OPS["DisconnectParticipant"], params, "ConnectionToken")

    async def start_attachment_upload(
        self,
        connection_token: str,
        *,
        content_type: str,
        attachment_size_in_bytes: int,
        attachment_name: str,
        client_token: str | None = None,
    ) -> StartAttachmentUploadResponse:
        """StartAttachmentUpload: get an attachment id and a presigned upload URL.

        ``content_type`` the file's MIME type (1..255), ``attachment_size_in_bytes`` the
        exact size (≥ 1 byte), ``attachment_name`` 1..256 characters. Raises
        ServiceQuotaExceededException when the chat's attachment quota is used up.
        """
        params = {
            "ContentType": content_type,
            "AttachmentSizeInBytes": attachment_size_in_bytes,
            "AttachmentName": attachment_name,
            "ClientToken": _uuid4() if client_token is None else client_token,
            "ConnectionToken": connection_token,
        }
        result: StartAttachmentUploadResponse = await self._call(
            _OPS["StartAttachmentUpload"], params, "ConnectionToken"
        )
        return result

    async def complete_attachment_upload(
        self,
        connection_token: str,
        *,
        attachment_ids: Sequence[str],
        client_token: str | None = None,
    ) -> CompleteAttachmentUploadResponse:
        """CompleteAttachmentUpload: publish uploaded attachments (exactly one id).

        Raises ConflictException / ServiceQuotaExceededException as the service does.
        """
        params = {
            "AttachmentIds": (
                list(attachment_ids)
                if isinstance(attachment_ids, (list, tuple))
                else attachment_ids
            ),
            "ClientToken": _uuid4() if client_token is None else client_token,
            "ConnectionToken": connection_token,
        }
        result: CompleteAttachmentUploadResponse = await self._call(
            _OPS["CompleteAttachmentUpload"], params, "ConnectionToken"
        )
        return result

    async def get_attachment(
        self,
        connection_token: str,
        *,
        attachment_id: str,
        url_expiry_in_seconds: int | None = None,
        url_content_disposition: str | None = None,
    ) -> GetAttachmentResponse:
        """GetAttachment: a presigned download URL (``url_expiry_in_seconds`` 5..300,
        ``url_content_disposition`` INLINE | ATTACHMENT), its expiry and the size in bytes."""
        params = {
            "AttachmentId": attachment_id,
            "ConnectionToken": connection_token,
            "UrlExpiryInSeconds": url_expiry_in_seconds,
            "UrlContentDisposition": url_content_disposition,
        }
        result: GetAttachmentResponse = await self._call(
            _OPS["GetAttachment"], params, "ConnectionToken"
        )
        return result

    async def describe_view(
        self, connection_token: str, *, view_token: str
    ) -> DescribeViewResponse:
        """DescribeView (``GET /participant/views/{ViewToken}``): a step-by-step guide view.

        Raises ResourceNotFoundException for an unknown view.
        """
        params = {"ViewToken": view_token, "ConnectionToken": connection_token}
        result: DescribeViewResponse = await self._call(
            _OPS["DescribeView"], params, "ConnectionToken"
        )
        return result

    async def get_authentication_url(
        self, connection_token: str, *, session_id: str, redirect_uri: str
    ) -> GetAuthenticationUrlResponse:
        """GetAuthenticationUrl: the sign-in URL (``session_id`` 36 characters from the
        authentication.initiated event, ``redirect_uri`` 1..1024)."""
        params = {
            "SessionId": session_id,
            "RedirectUri": redirect_uri,
            "ConnectionToken": connection_token,
        }
        result: GetAuthenticationUrlResponse = await self._call(
            _OPS["GetAuthenticationUrl"], params, "ConnectionToken"
        )
        return result

    async def cancel_participant_authentication(
        self, connection_token: str, *, session_id: str
    ) -> None:
        """CancelParticipantAuthentication (``session_id`` 36 characters)."""
        params = {"SessionId": session_id, "ConnectionToken": connection_token}
        await self._call(_OPS["CancelParticipantAuthentication"], params, "ConnectionToken")

    # ------------------------------------------------------------------ attachments' bytes

    async def upload_attachment(self, upload_metadata: UploadMetadata, data: bytes) -> None:
        """PUT ``data`` to ``upload_metadata.url`` with every header of
        ``headers_to_include`` unchanged ([protocol](protocol.md#attachments)). Retried like the
        operations.

        Raises:
            InvalidParameterError: no absolute http(s) URL, a header name or value
                that is not printable ASCII (CR/LF), or ``data`` differs from a
                Content-Length header the upload requires.
            ServiceError: the storage answered an error (e.g. 403 SignatureDoesNotMatch).
            HTTPStatusError: something else answered (no error code in the answer).
            TransportError: the network failed on every attempt.
        """
        url = upload_metadata.url
        if not url:
            raise InvalidParameterError("upload_metadata.url", "given")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidParameterError("data", "bytes", f"got {type(data).__name__}")
        headers = dict(upload_metadata.headers_to_include or {})
        for name, value in headers.items():
            if not (
                isinstance(name, str)
                and isinstance(value, str)
                and _header_safe(name)
                and _header_safe(value)
            ):
                raise InvalidParameterError(
                    "upload_metadata.headers_to_include",
                    "header names and values of printable ASCII (no CR, LF or other "
                    "control characters)",
                )
            if name.lower() == "content-length" and value.strip() != str(len(data)):
                raise InvalidParameterError(
                    "data",
                    f"exactly {value.strip()} bytes (the upload's Content-Length)",
                    f"got {len(data)}",
                )
        headers.setdefault("User-Agent", USER_AGENT)
        headers.setdefault("Accept-Encoding", "identity")
        await self._send(
            "UploadAttachment",
            "PUT",
            _absolute_url("upload_metadata.url", url),
            bytes(data),
            headers,
            (),
            transfer=True,
        )

    async def download_attachment(self, url: str) -> bytes:
        """GET the bytes at a presigned ``url`` (from :meth:`get_attachment`).

        Raises InvalidParameterError (not an absolute http(s) URL), ServiceError
        (storage error answer) or TransportError.
        """
        if not url:
            raise InvalidParameterError("url", "given")
        _, body = await self._send(
            "DownloadAttachment",
            "GET",
            _absolute_url("url", url),
            None,
            {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
            (),
            transfer=True,
        )
        return body


def _header_safe(text: str) -> bool:
    return text.isascii() and text.isprintable()


def _expand(op: Operation, params: Mapping[str, Any]) -> str:
    """``op.path`` with each ``{Label}`` replaced by its (validated) value, percent-encoded."""
    path = op.path
    for member in op.members:
        if member.location == "uri":
            label = quote(params[member.wire], safe="-._~")
            if label in (".", ".."):
                # a dot segment would be removed by URL normalisation (RFC 3986 5.2.4):
                # percent-encoded, the label reaches the service as it was given
                label = label.replace(".", "%2E")
            path = path.replace("{" + member.wire + "}", label)
    return path


def _start_position(value: StartPosition | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(value, StartPosition):
        return to_wire(value)
    if isinstance(value, Mapping):
        return value
    raise InvalidParameterError("start_position", "a StartPosition", f"got {type(value).__name__}")


def _absolute_url(field: str, url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):  # no detail: a presigned URL carries a signature
        raise InvalidParameterError(field, "an absolute http(s) URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidParameterError(field, "an absolute http(s) URL")
    return parsed
