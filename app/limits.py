"""Bounded work per request (issue 15): the same caps on what one question may carry, in the CLI,
the `/ask` API and the chat. One home for the numbers and for the messages that name them."""

from __future__ import annotations

MAX_QUESTION_CHARS = 2000  # a question longer than this is refused, not cut (its end may be the point)
MAX_HISTORY_TURNS = 20  # earlier user turns kept (the follow-up rewrite reads only the last few)
MAX_TURN_CHARS = 2000  # each kept turn is cut to this
MAX_K = 50  # passages one question may retrieve


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (then no login or rate limit is needed)."""
    import ipaddress

    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class InputRefused(ValueError):
    """A request outside the caps; the message says what to change."""


def check_k(k) -> int:
    try:
        k = int(k)
    except (TypeError, ValueError):
        raise InputRefused(f"k must be a whole number of passages (1-{MAX_K}), not {k!r}") from None
    if not 1 <= k <= MAX_K:
        raise InputRefused(f"k must be between 1 and {MAX_K} passages, not {k}")
    return k


def bound(question: str, history: list[str] | None) -> tuple[str, list[str], list[str]]:
    """(question, history, notes): the history cut to the caps, with a note for each cut.
    Raises InputRefused for a question over MAX_QUESTION_CHARS."""
    if question is not None and not isinstance(question, str):
        raise InputRefused(f"the question must be text, not {type(question).__name__}")
    question = (question or "").strip()
    if len(question) > MAX_QUESTION_CHARS:
        raise InputRefused(f"the question is {len(question):,} characters long; Assay reads questions of up to "
                           f"{MAX_QUESTION_CHARS:,} characters — shorten it")
    turns = [t for t in (history or []) if isinstance(t, str) and t.strip()]
    notes = []
    if len(turns) > MAX_HISTORY_TURNS:
        notes.append(f"history cut: only the last {MAX_HISTORY_TURNS} of {len(turns)} earlier questions are used")
        turns = turns[-MAX_HISTORY_TURNS:]
    if any(len(t) > MAX_TURN_CHARS for t in turns):
        notes.append(f"history cut: earlier questions are read up to {MAX_TURN_CHARS:,} characters each")
        turns = [t[:MAX_TURN_CHARS] for t in turns]
    return question, turns, notes


class RateLimiter:
    """At most `per_minute` requests per client in any 60 s (a sliding window); the oldest clients
    are forgotten beyond `max_clients`, so memory stays bounded under a flood of addresses."""

    def __init__(self, per_minute: int, max_clients: int = 10_000):
        import collections
        import threading

        self.per_minute, self.max_clients = int(per_minute), max_clients
        self._seen: "collections.OrderedDict[str, collections.deque]" = collections.OrderedDict()
        self._lock = threading.Lock()

    def wait(self, client: str, now: float | None = None) -> float:
        """0 when `client` may go ahead (and counts it), else the seconds until it may."""
        import collections
        import time

        if self.per_minute <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._seen.pop(client, None) or collections.deque()
            while hits and now - hits[0] >= 60:
                hits.popleft()
            self._seen[client] = hits
            while len(self._seen) > self.max_clients:
                self._seen.popitem(last=False)
            if len(hits) >= self.per_minute:
                return max(0.1, 60 - (now - hits[0]))
            hits.append(now)
            return 0.0


MAX_STREAMS_PER_CLIENT = 32  # open heartbeat streams (one per browser tab) from one address
MAX_STREAMS = 512  # and in all


class StreamLimits:
    """ASGI middleware: a cap on Gradio's long-lived heartbeat streams (`GET …/heartbeat/…`, one per
    open tab, unauthenticated), per client address and in all; one more is refused with 429."""

    def __init__(self, app, per_client: int = MAX_STREAMS_PER_CLIENT, total: int = MAX_STREAMS):
        self.app, self.per_client, self.total = app, per_client, total
        self.open: dict[str, int] = {}  # changed only on the event loop's thread

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or "/heartbeat/" not in scope.get("path", ""):
            return await self.app(scope, receive, send)
        client = (scope.get("client") or ("unknown", 0))[0]
        if self.open.get(client, 0) >= self.per_client:
            return await refuse(send, 429, f"too many open connections from {client}: at most {self.per_client} (close some tabs)")
        if sum(self.open.values()) >= self.total:
            return await refuse(send, 429, f"too many open connections: at most {self.total} in all (try again later)")
        self.open[client] = self.open.get(client, 0) + 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.open[client] -= 1
            if not self.open[client]:
                del self.open[client]


async def refuse(send, status: int, message: str) -> None:
    """An ASGI plain-text error response (the middlewares' refusals, before the app sees the request)."""
    body = message.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
