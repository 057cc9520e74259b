"""Two chat instances on one host do not serve each other's uploads (issue 15): each process
gets a private Gradio temp folder (0700) under its data folder, removed when it exits. Two real
`assay chat` processes; the upload goes through Gradio's raw upload route."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .conftest import ROOT, free_port

pytestmark = pytest.mark.slow


def _start(base: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "ASSAY_INDEX": str(base / ".assay" / "index"), "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    for k in ("ASSAY_LLM", "ASSAY_AUTH", "GRADIO_TEMP_DIR", "ASSAY_UPLOADS"):
        env.pop(k, None)
    p = subprocess.Popen([sys.executable, "-m", "assay.app.cli", "chat", "--port", str(port)], cwd=base, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert p.poll() is None, p.stderr.read().decode()[-2000:]
        try:
            if httpx.get(url + "config", timeout=2).status_code == 200:
                return p, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(url)


def _stop(p: subprocess.Popen) -> None:
    os.killpg(p.pid, signal.SIGTERM)
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(10)


def test_two_instances_do_not_serve_each_others_uploads_and_clean_up(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, url_a = _start(tmp_path / "a")
    b, url_b = _start(tmp_path / "b")
    try:
        r = httpx.post(url_a + "gradio_api/upload", files={"files": ("secret.md", b"# Private\n\nThe board meets on Tuesday.\n", "text/markdown")},
                       timeout=30)
        assert r.status_code == 200, r.text
        path = r.json()[0]
        assert Path(path).is_relative_to(tmp_path / "a" / ".assay" / "gradio-tmp"), path  # a's own folder
        assert oct(os.stat(Path(path).parents[len(Path(path).relative_to(tmp_path / "a" / ".assay" / "gradio-tmp").parts) - 2]).st_mode & 0o777) == "0o700"
        assert httpx.get(url_a + f"gradio_api/file={path}", timeout=30).status_code == 200
        other = httpx.get(url_b + f"gradio_api/file={path}", timeout=30)
        assert other.status_code in (403, 404) and b"Tuesday" not in other.content
    finally:
        _stop(a)
        _stop(b)
    assert not any((tmp_path / "a" / ".assay" / "gradio-tmp").iterdir())  # removed at exit
