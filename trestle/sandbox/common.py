"""What the Xero and Procore simulators share.

Each simulator is a FastAPI app built around a :class:`SandboxRuntime`: the options it was
started with, a rate-limit :class:`Clock` that can run faster than real time, a
:class:`FaultInjector`, :class:`RequestStats`, a :class:`TokenRegistry` and optional state
persistence. :func:`install_common` adds the request middleware (stats, latency, injected 5xx,
lost responses, garbled answers: :mod:`trestle.sandbox.garble`) and the ``/_sandbox`` control
routes to an app.

Handlers are ``async def`` and mutate state without awaiting in between, so the event loop
serialises writes: no locks are needed, and concurrency (Xero's 5-at-once limit) is still real
because injected latency awaits.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import pickle
import random
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from trestle.sandbox import garble
from trestle.sandbox.garble import Garbler, garbled

RATE_LIMIT_MODES = ("real", "off")


def parse_rate_limit_mode(mode: str) -> float | None:
    """Turn ``real | off | scaled:F`` into a clock speed (None means limits are off)."""
    if mode == "real":
        return 1.0
    if mode == "off":
        return None
    if mode.startswith("scaled:"):
        try:
            factor = float(mode.split(":", 1)[1])
        except ValueError as exc:
            raise ValueError(f"bad rate-limit mode {mode!r}: F in scaled:F must be a number") from exc
        if factor <= 0:
            raise ValueError(f"bad rate-limit mode {mode!r}: F must be positive")
        return factor
    raise ValueError(f"bad rate-limit mode {mode!r}: use real, off or scaled:F")


class FaultConfig(BaseModel):
    """Injected faults. Rates are probabilities per request (writes only for ``lost_rate``)."""

    error_rate: float = Field(0.0, ge=0, le=1, description="share of API requests answered 500/503")
    lost_rate: float = Field(0.0, ge=0, le=1, description="share of writes committed but answered 504")
    latency_ms: int = Field(0, ge=0, le=60_000, description="extra latency per API request")
    seed: int = 0

    @classmethod
    def parse(cls, text: str | None) -> FaultConfig:
        """Parse ``error_rate=0.05,lost_rate=0.01,latency_ms=20,seed=7`` (the ``--faults`` flag)."""
        if not text:
            return cls()
        values: dict[str, str] = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"bad --faults item {part!r}: expected key=value")
            values[key.strip()] = value.strip()
        return cls.model_validate(values)


class Clock:
    """Time for rate-limit windows; ``speed`` > 1 makes windows pass faster than real time.

    ``scaled:60`` turns Xero's 60-per-minute limit into 60 per real second, so a benchmark can
    exercise the real limits (and the client's pacing) in minutes instead of hours.
    """

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self._origin = time.monotonic()

    def now(self) -> float:
        """Scaled seconds since the clock started."""
        return (time.monotonic() - self._origin) * self.speed

    def to_real_seconds(self, scaled_seconds: float) -> int:
        """Whole real seconds to wait for ``scaled_seconds`` of window time (Retry-After)."""
        return max(1, math.ceil(scaled_seconds / self.speed))

    def reset_epoch(self, scaled_seconds_from_now: float) -> int:
        """Unix time (real) at which a window ``scaled_seconds_from_now`` away resets."""
        return math.ceil(time.time() + scaled_seconds_from_now / self.speed)


@dataclass
class WindowResult:
    allowed: bool
    limit: int
    remaining: int
    reset_in: float  # scaled seconds until a slot frees up


class SlidingWindow:
    """A sliding-window request counter: at most ``limit`` hits in any ``period`` seconds."""

    def __init__(self, limit: int, period: float, clock: Clock) -> None:
        self.limit = limit
        self.period = period
        self.clock = clock
        self._hits: deque[float] = deque()

    def _trim(self, now: float) -> None:
        while self._hits and self._hits[0] <= now - self.period:
            self._hits.popleft()

    def peek(self) -> WindowResult:
        now = self.clock.now()
        self._trim(now)
        remaining = self.limit - len(self._hits)
        reset_in = (self._hits[0] + self.period - now) if self._hits else self.period
        return WindowResult(remaining > 0, self.limit, max(0, remaining), reset_in)

    def hit(self) -> WindowResult:
        """Count one request if the window has room; say how much is left either way."""
        result = self.peek()
        if not result.allowed:
            return result
        self._hits.append(self.clock.now())
        return WindowResult(True, self.limit, result.remaining - 1, result.reset_in)


@dataclass
class IssuedToken:
    client_id: str
    expires_at: float
    scope: str = ""


class TokenRegistry:
    """Access tokens and single-use refresh tokens issued by a simulator's token endpoint."""

    def __init__(self) -> None:
        self._access: dict[str, IssuedToken] = {}
        self._refresh: dict[str, str] = {}  # refresh token -> client_id
        self._codes: dict[str, str] = {}  # authorization code -> client_id

    def issue_access(self, client_id: str, ttl_seconds: int, scope: str = "") -> str:
        token = secrets.token_urlsafe(32)
        self._access[token] = IssuedToken(client_id, time.time() + ttl_seconds, scope)
        return token

    def issue_refresh(self, client_id: str) -> str:
        token = secrets.token_urlsafe(32)
        self._refresh[token] = client_id
        return token

    def issue_code(self, client_id: str) -> str:
        code = secrets.token_urlsafe(16)
        self._codes[code] = client_id
        return code

    def consume_code(self, code: str) -> str | None:
        return self._codes.pop(code, None)

    def consume_refresh(self, token: str) -> str | None:
        """Use a refresh token once: returns its client id, or None if unknown or already used."""
        return self._refresh.pop(token, None)

    def check(self, token: str) -> tuple[str, IssuedToken | None]:
        """``("ok"|"expired"|"unknown", token)`` for a bearer token."""
        issued = self._access.get(token)
        if issued is None:
            return "unknown", None
        if issued.expires_at <= time.time():
            return "expired", issued
        return "ok", issued

    def expire_all(self) -> int:
        now = time.time()
        for issued in self._access.values():
            issued.expires_at = min(issued.expires_at, now)
        return len(self._access)


class RequestStats:
    """Request counts per ``METHOD /route/template``, for tests and benchmarks."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.started = time.time()

    def record(self, method: str, route: str, status: int) -> None:
        self.requests[f"{method} {route}"] += 1
        self.statuses[str(status)] += 1

    def reset(self) -> None:
        self.requests.clear()
        self.statuses.clear()
        self.started = time.time()


class FaultInjector:
    """Decides, reproducibly for a seed, which requests fail, lose their answer, or lag."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)

    def injected_error(self) -> int | None:
        if self.config.error_rate and self._rng.random() < self.config.error_rate:
            return self._rng.choice([500, 503])
        return None

    def lose_response(self) -> bool:
        return bool(self.config.lost_rate) and self._rng.random() < self.config.lost_rate


class SavedStateMismatch(Exception):
    """``--state-dir`` holds another dataset or seed than the one asked for."""


def saved_dataset(state_dir: Path) -> tuple[str, int] | None:
    """The dataset and seed of the sandbox state saved in ``state_dir`` (None when there is none)."""
    for name in ("xero", "procore"):
        path = state_dir / f"{name}.pickle"
        if path.exists():
            with path.open("rb") as handle:
                saved = pickle.load(handle)
            return str(saved.get("dataset")), int(saved.get("seed"))
    return None


@dataclass
class SandboxRuntime:
    """Everything a simulator app needs besides its own entity state."""

    name: str
    dataset: str = "small"
    seed: int = 1
    rate_limit_mode: str = "real"
    state_dir: Path | None = None
    faults: FaultInjector = field(default_factory=FaultInjector)
    stats: RequestStats = field(default_factory=RequestStats)
    tokens: TokenRegistry = field(default_factory=TokenRegistry)
    public_url: str = "http://127.0.0.1"
    # Strict mode: every response is checked against the official schema of its operation and every
    # request against the operation's documented parameters and fields (docs/FIDELITY.md).
    strict: bool = True
    garbler: Garbler = field(default_factory=Garbler)  # records answered with a wrong field (tests)

    def __post_init__(self) -> None:
        self.clock = Clock(parse_rate_limit_mode(self.rate_limit_mode) or 1.0)
        self.limits_enabled = parse_rate_limit_mode(self.rate_limit_mode) is not None
        self._save_lock = threading.Lock()

    def set_rate_limit_mode(self, mode: str) -> None:
        speed = parse_rate_limit_mode(mode)
        self.rate_limit_mode = mode
        self.limits_enabled = speed is not None
        self.clock = Clock(speed or 1.0)

    @property
    def state_file(self) -> Path | None:
        return self.state_dir / f"{self.name}.pickle" if self.state_dir else None

    def load_state(self) -> Any | None:
        """The state saved by an earlier run in ``--state-dir``, if any."""
        path = self.state_file
        if path is None or not path.exists():
            return None
        with path.open("rb") as handle:
            saved = pickle.load(handle)
        if saved.get("dataset") != self.dataset or saved.get("seed") != self.seed:
            # Starting afresh would overwrite the saved data at the first write: refuse instead.
            raise SavedStateMismatch(
                f"{self.state_dir} holds the {self.name} sandbox's {saved.get('dataset')} dataset "
                f"(seed {saved.get('seed')}), not {self.dataset} (seed {self.seed}); start with "
                f"--dataset {saved.get('dataset')} --seed {saved.get('seed')} to serve it, or choose another "
                "--state-dir (nothing was changed)"
            )
        return saved["state"]

    def save_state(self, state: Any) -> None:
        """Persist ``state`` atomically to ``--state-dir`` (no-op without one)."""
        path = self.state_file
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with self._save_lock:
            with tmp.open("wb") as handle:
                pickle.dump({"dataset": self.dataset, "seed": self.seed, "state": state}, handle)
            tmp.replace(path)


class ResetRequest(BaseModel):
    dataset: str | None = None
    seed: int | None = None


class RateLimitRequest(BaseModel):
    mode: str


def route_template(request: Request) -> str:
    """The matched route's path template (``/api.xro/2.0/Invoices/{invoice_id}``), or the raw path."""
    route = request.scope.get("route")
    return getattr(route, "path", None) or request.url.path


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def install_common(
    app: FastAPI,
    runtime: SandboxRuntime,
    *,
    object_counts: Callable[[], dict[str, int]],
    reset: Callable[[str, int], None],
    is_api_path: Callable[[str], bool],
) -> None:
    """Add stats, latency, fault injection and the ``/_sandbox`` control routes to ``app``.

    ``reset(dataset, seed)`` rebuilds the app's state from the scenario; ``is_api_path`` says
    which paths are the simulated API (faults and latency apply only there, never to the
    control plane or the token endpoint's health).
    """

    @app.middleware("http")
    async def sandbox_middleware(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        api = is_api_path(path)
        if api and runtime.faults.config.latency_ms:
            await asyncio.sleep(runtime.faults.config.latency_ms / 1000)
        if api:
            status = runtime.faults.injected_error()
            if status is not None:
                runtime.stats.record(request.method, path, status)
                body = "Service Unavailable" if status == 503 else "Internal Server Error"
                headers = {"Retry-After": "1"} if status == 503 else {}
                return Response(body, status_code=status, media_type="text/plain", headers=headers)
        response = await call_next(request)
        runtime.stats.record(request.method, route_template(request), response.status_code)
        if api and (garbles := runtime.garbler.applies(request.method, path, response.status_code)):
            response = await garbled(response, garbles)
        if api and request.method in WRITE_METHODS and response.status_code < 300 and runtime.faults.lose_response():
            return Response(b"", status_code=504)
        return response

    garble.install(app, runtime.garbler)

    @app.get("/_sandbox/health", include_in_schema=False)
    async def health() -> dict[str, Any]:
        return {"status": "ok", "name": runtime.name, "dataset": runtime.dataset, "seed": runtime.seed}

    @app.get("/_sandbox/stats", include_in_schema=False)
    async def stats() -> dict[str, Any]:
        return {
            "name": runtime.name,
            "requests": dict(runtime.stats.requests),
            "statuses": dict(runtime.stats.statuses),
            "total_requests": sum(
                count for key, count in runtime.stats.requests.items() if is_api_path(key.split(" ", 1)[1])
            ),
            "objects": object_counts(),
            "since": runtime.stats.started,
            "rate_limits": runtime.rate_limit_mode,
            "faults": runtime.faults.config.model_dump(),
        }

    @app.post("/_sandbox/stats/reset", include_in_schema=False)
    async def stats_reset() -> dict[str, str]:
        runtime.stats.reset()
        return {"status": "ok"}

    @app.post("/_sandbox/faults", include_in_schema=False)
    async def faults(config: FaultConfig) -> dict[str, Any]:
        runtime.faults.configure(config)
        return config.model_dump()

    @app.post("/_sandbox/rate-limits", include_in_schema=False)
    async def rate_limits(body: RateLimitRequest) -> Response:
        try:
            runtime.set_rate_limit_mode(body.mode)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"mode": runtime.rate_limit_mode})

    @app.post("/_sandbox/tokens/expire", include_in_schema=False)
    async def expire_tokens() -> dict[str, int]:
        return {"expired": runtime.tokens.expire_all()}

    @app.post("/_sandbox/reset", include_in_schema=False)
    async def reset_route(body: ResetRequest) -> dict[str, Any]:
        dataset = body.dataset or runtime.dataset
        seed = body.seed if body.seed is not None else runtime.seed
        reset(dataset, seed)
        runtime.dataset, runtime.seed = dataset, seed
        runtime.stats.reset()
        runtime.faults.configure(FaultConfig())
        runtime.garbler.clear()
        return {"status": "ok", "dataset": dataset, "seed": seed, "objects": object_counts()}


@dataclass(frozen=True)
class SandboxClient:
    """An OAuth client the simulator accepts (deterministic per seed, printed by ``trestle sandbox``)."""

    client_id: str
    client_secret: str


def sandbox_client(system: str, seed: int) -> SandboxClient:
    """The client id and secret a simulator for ``system`` accepts at its token endpoint."""
    digest = hashlib.sha256(f"trestle-sandbox-{system}-{seed}".encode()).hexdigest()
    return SandboxClient(client_id=f"sandbox-{system}-{digest[:12]}", client_secret=digest[12:44])
