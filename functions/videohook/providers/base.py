"""What every provider adapter takes and returns, and the error classes it raises.

Adapters translate one wire contract; they never retry, sleep or log secrets.
Retrying is the caller's decision (submit retries transient errors within the
request; the workflow keeps polling through them until the job deadline).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import ConfigDict

from videohook.models import JobError, JobStatus, Model

if TYPE_CHECKING:
    import httpx


class GenerationRequest(Model):
    """Provider-neutral create request (docs/providers.md §4 has the mapping)."""

    model_config = ConfigDict(frozen=True)

    prompt: str
    model: str | None = None
    duration: int | None = None
    resolution: str | None = None
    aspect_ratio: str | None = None
    image_url: str | None = None
    reference_images: tuple[str, ...] | None = None
    user: str | None = None
    upload_url: str | None = None


class ProviderJobState(Model):
    """One poll answer, normalized. `status` is queued/running while not terminal."""

    model_config = ConfigDict(frozen=True)

    status: JobStatus
    progress: int | None = None
    video_url: str | None = None
    error: JobError | None = None
    raw_status: str | None = None


class ProviderError(Exception):
    """Base of every adapter error. `code` is stable; `message` never holds a secret."""

    code = "provider_error"

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class ProviderRejected(ProviderError):
    """400/422: the request itself is bad. Surface as a 4xx of ours, never retry."""

    code = "provider_rejected"


class ProviderAuthError(ProviderError):
    """401/403: our provider key is wrong or missing. A 5xx of ours, never retried blindly."""

    code = "provider_auth_failed"


class ProviderTransient(ProviderError):
    """429, 5xx, timeouts, resets, non-JSON or unknown-shape bodies: retry with backoff."""

    code = "provider_unavailable"

    def __init__(
        self, message: str, *, status_code: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class ProviderTimeout(ProviderTransient):
    """The request was sent but no answer came (read timeout, connection dropped mid-answer):
    the provider may have acted on it. Polls just try again; a submit must not (a second
    paid job)."""

    code = "provider_timeout"


class ProviderMalformed(ProviderTransient):
    """A 200 whose body is not JSON or not a known shape: transient for a bounded number of polls."""

    code = "provider_malformed_response"


class ProviderUnsupported(ProviderRejected):
    """The request uses a feature this provider lacks (e.g. reference_images on xAI)."""

    code = "unsupported_by_provider"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class ProviderAdapter(Protocol):
    """One provider's wire contract."""

    def submit(self, request: GenerationRequest) -> str:
        """Start a job; return the provider's request id."""
        ...

    def poll(self, request_id: str) -> ProviderJobState:
        """Ask for the job's state once."""
        ...


# ---- shared plumbing of the HTTP adapters ------------------------------------
# Every adapter goes through HttpAdapter._send, so HTTP statuses, transport
# errors and unreadable bodies are classified in exactly one place.

SNIPPET_LIMIT = 200
ERROR_MESSAGE_LIMIT = 500


def scrub(text: str, secret: str, limit: int = SNIPPET_LIMIT) -> str:
    """`text` without `secret`, on one line, cut to `limit` characters.

    Every piece of provider text that ends up in a message goes through here: a
    provider that echoes our key back (some do, in auth errors) must not leak it.
    """
    if secret:
        text = text.replace(secret, "[redacted]")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value or not value.strip():
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def parse_progress(value: object) -> int | None:
    """A percentage as an int 0-100 from `42`, `42.5` or `"42%"` (CometAPI's wrapper uses strings)."""
    if isinstance(value, str):
        try:
            value = float(value.strip().removesuffix("%"))
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return max(0, min(100, int(value)))


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list | dict) and value:
        return json.dumps(value)
    return ""


def job_error(value: object, *, default_message: str, default_code: str = "provider_failed") -> JobError:
    """A provider's job failure (`{"code", "message"}`, a bare string, or nothing) as our JobError."""
    code, message = default_code, default_message
    if isinstance(value, dict):
        if isinstance(value.get("code"), str | int) and str(value["code"]).strip():
            code = str(value["code"]).strip()
        message = _as_text(value.get("message")) or message
    elif _as_text(value):
        message = _as_text(value)
    return JobError(code=code, message=message)


def provider_message(response: httpx.Response) -> str:
    """The provider's own words about an error.

    From `error.message`, `message`, `detail` or `error`, else the body text.
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        nested = error.get("message") if isinstance(error, dict) else None
        for value in (nested, body.get("message"), body.get("detail"), error):
            if text := _as_text(value):
                return text
    return response.text


class HttpAdapter:
    """Base of the adapters: auth, URL building, error classification, JSON decoding.

    The injected client owns timeouts and connection pooling; the adapter never
    retries or sleeps (see the module docstring).
    """

    name: ClassVar[str] = "provider"
    supports_reference_images: ClassVar[bool] = False
    supports_upload_url: ClassVar[bool] = False

    def __init__(
        self,
        base_url: str,
        api_key: str,
        client: httpx.Client,
        *,
        label: str | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._client = client
        self._timeout = timeout  # None: the client's own
        # What messages call the provider: "sandbox" when the sandbox speaks this contract.
        self.label = label or self.name

    def submit(self, request: GenerationRequest) -> str:
        raise NotImplementedError

    def poll(self, request_id: str) -> ProviderJobState:
        raise NotImplementedError

    @classmethod
    def check_supported(cls, request: GenerationRequest) -> None:
        """Refuse features this wire contract lacks, before any HTTP call (nothing is billed)."""
        if request.reference_images and not cls.supports_reference_images:
            raise ProviderUnsupported(
                f"reference_images is not supported by the {cls.name} contract", field="reference_images"
            )
        if request.reference_images and request.image_url:
            raise ProviderUnsupported(
                "image and reference_images cannot be combined", field="reference_images"
            )
        if request.upload_url and not cls.supports_upload_url:
            raise ProviderUnsupported(
                f"upload_url is not supported by the {cls.name} contract", field="upload_url"
            )

    def _create(
        self,
        path: str,
        request: GenerationRequest,
        body: Callable[[GenerationRequest], dict[str, Any]],
        id_key: str,
    ) -> str:
        """Start a job: refuse what the contract lacks, POST `body(request)`, return the answer's `id_key`."""
        self.check_supported(request)
        response = self._send("POST", path, json=body(request))
        return self._string_field(response, self._json_object(response), id_key)

    def _state(
        self, response: httpx.Response, parse: Callable[[dict[str, Any]], ProviderJobState | None], shape: str
    ) -> ProviderJobState:
        """A poll answer read by `parse`, its failure text cleaned; a shape it does not know is malformed."""
        state = parse(self._json_object(response))
        if state is None:
            raise self._malformed(response, f"unknown {shape} shape")
        return self._clean(state)

    def _scrub(self, text: str, limit: int = SNIPPET_LIMIT) -> str:
        return scrub(text, self._api_key, limit)

    def _clean(self, state: ProviderJobState) -> ProviderJobState:
        """Provider-written failure text, scrubbed and bounded like every other message."""
        if state.error is None:
            return state
        message = self._scrub(state.error.message, ERROR_MESSAGE_LIMIT)
        return state.model_copy(update={"error": JobError(code=state.error.code, message=message)})

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        polling: bool = False,
    ) -> httpx.Response:
        """One request; returns any 2xx response and raises a classified ProviderError otherwise."""
        import httpx  # here: a handler that never calls a provider does not load it (cold start)

        headers = {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"}
        try:
            response = self._client.request(
                method,
                self._base_url + path,
                json=json,
                params=params,
                headers=headers,
                timeout=self._timeout or httpx.USE_CLIENT_DEFAULT,
            )
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing was sent: safe to try again.
            raise ProviderTransient(f"{self.label} timed out ({type(exc).__name__})") from exc
        except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise ProviderTimeout(f"{self.label} sent no answer ({type(exc).__name__})") from exc
        except httpx.RequestError as exc:
            raise ProviderTransient(
                f"{self.label} unreachable ({type(exc).__name__}: {self._scrub(str(exc))})"
            ) from exc

        status = response.status_code
        if 200 <= status < 300:
            return response
        detail = self._scrub(provider_message(response)) or "(empty body)"
        if status in (401, 403):
            raise ProviderAuthError(
                f"{self.label} refused our API key (HTTP {status}): {detail}; check the provider key secret",
                status_code=status,
            )
        # A poll 404 is not final: providers may not know a fresh id for a few seconds
        # (eventual consistency between their create and query paths), so keep polling;
        # the job deadline bounds how long. On submit a 404 means a wrong URL or model.
        transient = status >= 500 or status in (408, 425, 429) or (polling and status == 404)
        if transient:
            raise ProviderTransient(
                f"{self.label} is unavailable (HTTP {status}): {detail}",
                status_code=status,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if 400 <= status < 500:
            raise ProviderRejected(
                f"{self.label} rejected the request (HTTP {status}): {detail}", status_code=status
            )
        # 1xx/3xx (we never follow redirects): most likely a misconfigured base URL.
        raise self._malformed(response, f"unexpected HTTP {status}")

    def _malformed(self, response: httpx.Response, why: str) -> ProviderMalformed:
        snippet = self._scrub(response.text) or "(empty body)"
        return ProviderMalformed(
            f"{self.label} sent an unexpected response ({why}): {snippet}", status_code=response.status_code
        )

    def _json_object(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
            raise self._malformed(response, "body is not JSON") from None
        if not isinstance(body, dict):
            raise self._malformed(response, "body is not a JSON object")
        return body

    def _string_field(self, response: httpx.Response, body: dict[str, Any], key: str) -> str:
        value = body.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self._malformed(response, f"no {key}")
        return value
