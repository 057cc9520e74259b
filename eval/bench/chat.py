"""Phase `chat`: cold `assay ask` (wall time, peak RSS) and `assay chat` start-up to the first served
page and the first answers over the API, each next to a bare `python -c "import chromadb"` measured
in the same run."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

from ...ingest.config import child_env
from .common import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Started from a small Python, not from the bench: a child forked from a big process reports that
# process's resident pages as its own peak RSS (ru_maxrss counts the pages shared before exec).
_MEASURE = ("import resource, subprocess, sys; "
            "rc = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)")


def _timed(cmd: list[str], env: dict) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MB) and exit code of one child process."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], cwd=str(ROOT), env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    rss = int(proc.stdout.split()[-1]) / 1024 if proc.stdout.strip() else float("nan")
    return wall, rss, proc.returncode


def bench_cold(index_dir: str, question: str, log, runs: int = 3, settings=None) -> dict:
    """Cold `assay ask` against bare `import chromadb` (the floor any Chroma client pays), median of `runs`."""
    import statistics

    env = child_env(ANONYMIZED_TELEMETRY="False")
    server = ["--chroma-url", settings.chroma_url, "--collection", settings.collection] if settings is not None and settings.chroma_url else []
    cmds = {
        "import_chromadb": [sys.executable, "-c", "import chromadb"],
        "ask": [sys.executable, "-m", "assay.app.cli", "--index", index_dir, *server, "ask", question],
        "ask_missing_index": [sys.executable, "-m", "assay.app.cli", "--index", index_dir + "-missing", "ask", question],
    }
    out: dict = {}
    for name, cmd in cmds.items():
        got = [_timed(cmd, env) for _ in range(runs)]
        out[name] = {"wall_s": round(statistics.median(g[0] for g in got), 3), "peak_rss_mb": round(max(g[1] for g in got)),
                     "exit_codes": sorted({g[2] for g in got})}
    ref = out["import_chromadb"]["wall_s"]
    for name in ("ask", "ask_missing_index"):
        out[name]["vs_import_chromadb"] = round(out[name]["wall_s"] / ref, 2)
    log(f"   cold ask {out['ask']['wall_s']} s ({out['ask']['vs_import_chromadb']}x `import chromadb`, {ref} s), "
        f"peak RSS {out['ask']['peak_rss_mb']} MB; missing index {out['ask_missing_index']['wall_s']} s")
    return out


def bench_chat(index_dir: str, question: str, log, timeout: float = 300.0, settings=None) -> dict:
    import urllib.request

    port = free_port()
    env = child_env(GRADIO_ANALYTICS_ENABLED="False", ANONYMIZED_TELEMETRY="False", ASSAY_INDEX=index_dir)
    server = ["--chroma-url", settings.chroma_url, "--collection", settings.collection] if settings is not None and settings.chroma_url else []
    cmd = [sys.executable, "-m", "assay.app.cli", "--index", index_dir, *server, "chat", "--port", str(port)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    out: dict = {"command": " ".join(cmd[1:])}
    try:
        url = f"http://127.0.0.1:{port}/"
        while True:
            if proc.poll() is not None:
                out["error"] = f"chat exited with {proc.returncode}: {(proc.stderr.read() or '')[-500:]}"
                return out
            if time.perf_counter() - t0 > timeout:
                out["error"] = "no page within timeout"
                return out
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except Exception:
                time.sleep(0.1)
        out["startup_to_first_page_s"] = round(time.perf_counter() - t0, 2)
        t1 = time.perf_counter()
        try:
            from gradio_client import Client

            client = Client(url, verbose=False)
            t2 = time.perf_counter()
            ans = client.predict(question, [], 6, api_name="/ask")
            out["first_answer_s"] = round(time.perf_counter() - t2, 3)
            out["client_connect_s"] = round(t2 - t1, 3)
            t3 = time.perf_counter()
            client.predict(question + " (again)", [], 6, api_name="/ask")
            out["second_answer_s"] = round(time.perf_counter() - t3, 3)
            out["answered"] = bool(ans and not ans.get("abstained")) if isinstance(ans, dict) else None
        except Exception as e:
            out["answer_error"] = f"{type(e).__name__}: {e}"
        log(f"   chat: first page {out.get('startup_to_first_page_s')} s, first answer {out.get('first_answer_s')} s")
        return out
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


