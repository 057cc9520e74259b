"""`assay chat` under load, on 127.0.0.1 only: 20 concurrent gradio_client clients, 500 questions in
all, every answer checked against its own question; latency p50/p95; server RSS after 50 vs after
500 questions; a flood against a small queue gets "queue full" (busy), not a crash.

Bounded: ~500 questions with the offline writer (≈0.1–0.3 s each, 2 at a time) plus one server
start; well under 4 minutes on 2 cores. ASSAY_LOAD_QUESTIONS lowers the total (e.g. 300) on
slower machines; the RSS comparison is then made after that many.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.test_api import QUESTIONS, check_answer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 20
PER_CLIENT = 10
TOTAL = int(os.environ.get("ASSAY_LOAD_QUESTIONS", "500"))
EARLY = 50  # RSS is compared between this many answered questions and TOTAL


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _wait_up(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"assay chat exited with {proc.returncode}")
        try:
            if httpx.get(url + "config", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"assay chat did not come up at {url} in {timeout:.0f} s")


@pytest.fixture(scope="module")
def chat_server(corpus_engine, tmp_path_factory):
    """`assay chat` in a subprocess on a free loopback port, over a copy of the bundled-corpus index."""
    base = tmp_path_factory.mktemp("loadchat")
    index = base / "index"
    shutil.copytree(corpus_engine.settings.index_dir, index, ignore=shutil.ignore_patterns("*.lock"))
    port = _free_port()
    env = {**os.environ, "ASSAY_INDEX": str(index), "ASSAY_CORPUS": str(base / "corpus"), "PYTHONPATH": str(ROOT)}
    env.pop("ASSAY_LLM", None)
    env.pop("ASSAY_AUTH", None)
    log = open(base / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from assay.app.cli import main; sys.exit(main(sys.argv[1:]))", "chat", "--port", str(port)],
        env=env, cwd=base, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_up(url, proc)
        yield {"url": url, "pid": proc.pid, "log": base / "server.log"}
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        log.close()


def _client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False)


def _run(clients: list, per_client: int, offset: int = 0) -> tuple[list[tuple[str, dict, float]], list[str], float]:
    """Every client asks `per_client` questions in turn (different mixes per client), all clients at once."""
    questions = list(QUESTIONS)
    results: list[tuple[str, dict, float]] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(len(clients))

    def worker(i: int, c) -> None:
        try:
            start.wait(timeout=60)
            for j in range(per_client):
                q = questions[(i * 7 + j + offset) % len(questions)]
                t0 = time.perf_counter()
                r = c.predict(q, [], 6, api_name="/ask")
                dt = time.perf_counter() - t0
                with lock:
                    results.append((q, r, dt))
        except Exception as e:  # a thread's exception would not fail the test: collect it
            with lock:
                errors.append(f"client {i}: {type(e).__name__}: {e}")

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return results, errors, time.perf_counter() - t0


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def test_twenty_concurrent_clients_then_memory_is_flat(chat_server):
    url, pid = chat_server["url"], chat_server["pid"]
    clients = [_client(url) for _ in range(CLIENTS)]
    # warm-up: EARLY questions (10 clients × 5), then the baseline RSS
    res, errors, _ = _run(clients[:10], EARLY // 10)
    assert not errors, errors
    for q, r, _ in res:
        check_answer(r, q)
    rss_early = _rss_mb(pid)
    # the measured phase: 20 concurrent clients × 10 questions
    res, errors, elapsed = _run(clients, PER_CLIENT, offset=3)
    assert not errors, errors
    assert len(res) == CLIENTS * PER_CLIENT
    for q, r, _ in res:
        check_answer(r, q)  # the citations and keywords belong to this question, not a neighbour's
    lat = [dt for _, _, dt in res]
    p50, p95 = _pct(lat, 50), _pct(lat, 95)
    done = EARLY + len(res)
    # the rest, up to TOTAL answered questions
    rest = max(0, TOTAL - done)
    if rest:
        per = -(-rest // CLIENTS)
        more, errors, _ = _run(clients, per, offset=5)
        assert not errors, errors
        for q, r, _ in more:
            check_answer(r, q)
        done += len(more)
    rss_late = _rss_mb(pid)
    growth = (rss_late - rss_early) / rss_early
    print(
        f"\n{CLIENTS} clients × {PER_CLIENT}: {len(lat)} answers in {elapsed:.1f} s ({len(lat) / elapsed:.1f}/s); "
        f"latency p50 {p50:.2f} s, p95 {p95:.2f} s, max {max(lat):.2f} s\n"
        f"server RSS after {EARLY}: {rss_early:.0f} MB, after {done}: {rss_late:.0f} MB ({growth:+.1%})"
    )
    assert done >= TOTAL
    assert growth <= 0.10, f"RSS grew {growth:.1%}: {rss_early:.0f} -> {rss_late:.0f} MB"
    # still healthy
    check_answer(_client(url).predict(list(QUESTIONS)[0], [], 6, api_name="/ask"), list(QUESTIONS)[0])


def test_flood_against_a_small_queue_gets_busy_not_a_crash(corpus_engine, tmp_path):
    """ASSAY_QUEUE_SIZE=2: 30 simultaneous requests; the overflow is told the queue is full, the rest are answered."""
    from gradio_client.utils import QueueError

    from assay.app.chat import launch

    settings = dataclasses.replace(corpus_engine.settings, queue_size=2)  # as ASSAY_QUEUE_SIZE=2 would set it
    demo, url = launch(settings, port=_free_port(), engine=corpus_engine, corpus_dir=tmp_path / "corpus",
                       block=False, quiet=True)
    try:
        assert demo._queue.max_size == 2
        q = list(QUESTIONS)[0]
        clients = [_client(url) for _ in range(30)]
        outcomes: list[str] = []
        other: list[str] = []
        lock = threading.Lock()
        start = threading.Barrier(len(clients))

        def worker(c) -> None:
            try:
                start.wait(timeout=60)
                r = c.predict(q, [], 6, api_name="/ask")
                check_answer(r, q)
                kind = "ok"
            except QueueError as e:
                kind = "busy" if "full" in str(e).lower() else f"queue error: {e}"
            except Exception as e:
                kind = "other"
                with lock:
                    other.append(f"{type(e).__name__}: {e}")
            with lock:
                outcomes.append(kind)

        threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)
        counts = {k: outcomes.count(k) for k in set(outcomes)}
        print(f"\nflood of {len(clients)} against max_size=2: {counts}")
        assert not other, other
        assert counts.get("busy", 0) >= 1 and counts.get("ok", 0) >= 1, counts
        assert sum(counts.values()) == len(clients)
        time.sleep(1.0)
        check_answer(_client(url).predict(q, [], 6, api_name="/ask"), q)  # the server survived
    finally:
        demo.close()
