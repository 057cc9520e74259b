"""Uploads from the chat: safe names, size/count/type limits, content checked by its first bytes,
written only inside the upload folder. Every refusal is one status line naming the file."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import unicodedata
from pathlib import Path
from typing import Any

from ...ingest.config import gradio_temp_env
from ...ingest.files import SUPPORTED_SUFFIXES, content_problem, is_folder_note
from ..limits import refuse

MAX_UPLOAD_FILES = 20


# Names Windows cannot open (and that confuse tools on shared drives). Folder notes (README,
# LICENSE) are renamed too: the corpus walker skips them, so they would never be re-indexed.
_RESERVED_STEMS = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
MAX_NAME_STEM = 100


def safe_filename(name: str) -> str:
    """Basename only, safe characters, no leading dots, no reserved names; never '' or a path.

    ``../../x.md`` and ``..\\..\\x.md`` -> ``x.md``; ``/etc/passwd.md`` -> ``passwd.md``; ``.hidden.md`` ->
    ``hidden.md``; ``CON.md`` -> ``CON-upload.md``; ``README.md`` -> ``README-upload.md``; ``""`` -> ``upload``.
    """
    base = unicodedata.normalize("NFKD", str(name or ""))
    base = "".join(ch for ch in base if not unicodedata.combining(ch))  # é -> e
    base = re.split(r"[\\/]", base)[-1].strip()
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem)
    stem = re.sub(r"\.{2,}", ".", stem).strip("._-")[:MAX_NAME_STEM].strip("._-")
    suffix = re.sub(r"[^A-Za-z0-9]+", "", suffix).lower()[:10]
    if not stem:
        stem = "upload"
    full = f"{stem}.{suffix}" if suffix else stem
    if stem.split(".")[0].lower() in _RESERVED_STEMS or is_folder_note(full):
        stem = f"{stem}-upload"
    return f"{stem}.{suffix}" if suffix else stem


def is_inside(path: Path, folder: Path) -> bool:
    """True when `path` (after resolving symlinks and ..) is inside `folder` (resolved)."""
    try:
        return Path(path).resolve().is_relative_to(Path(folder).resolve())
    except (OSError, RuntimeError):
        return False


def save_uploads(
    items: list[tuple[str, str]],
    dest: Path,
    *,
    max_bytes: int,
    max_files: int = MAX_UPLOAD_FILES,
    taken: Any = (),
    limit_label: str = "",
) -> tuple[list[Path], list[tuple[str, str]], dict[str, str]]:
    """Check and copy uploaded temp files into `dest` (the corpus upload folder) under safe, unique names.

    items: [(temp path, name as the browser sent it)]. taken(name, target) -> True when `name` is
    already used by another article. Returns (saved paths, status lines, {saved name: label}).
    Every refusal is a status line; nothing is ever written outside `dest`.
    """
    lines: list[tuple[str, str]] = []
    saved: list[Path] = []
    labels: dict[str, str] = {}
    if len(items) > max_files:
        return [], [("err", f"{len(items)} files chosen — at most {max_files} per upload.")], {}
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    is_taken = taken if callable(taken) else (lambda n, t: n in set(taken))
    limit_label = limit_label or f"{max_bytes / 1048576:g} MB"
    used: set[str] = set()
    for tmp, orig in items:
        # The name is shown (escaped) as the user sent it, minus any folders.
        shown = re.split(r"[\\/]", str(orig or ""))[-1].strip() or "file"
        shown = shown[:160] + ("…" if len(shown) > 160 else "")
        suffix = Path(re.split(r"[\\/]", str(orig or ""))[-1].strip()).suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            lines.append(("err", f"refused {shown}: only {', '.join(SUPPORTED_SUFFIXES)} files can be added"))
            continue
        try:
            size = os.path.getsize(tmp)
        except (OSError, TypeError):
            lines.append(("err", f"refused {shown}: the upload did not arrive"))
            continue
        if size > max_bytes:
            lines.append(("err", f"refused {shown}: {size / 1048576:.1f} MB is over the {limit_label} limit"))
            continue
        if size == 0:
            lines.append(("err", f"refused {shown}: the file is empty"))
            continue
        problem = content_problem(tmp, f"x{suffix}")
        if problem:
            lines.append(("err", f"refused {shown}: {problem}"))
            continue
        name = safe_filename(orig)
        if Path(name).suffix.lower() != suffix:  # e.g. a name of only dots: keep the checked suffix
            name = f"upload{suffix}"
        stem, suf = name[: -len(Path(name).suffix)], Path(name).suffix
        target = dest / name
        i = 2
        # Keep ids unique: a name already used by another article (or earlier in this batch) gets a suffix.
        while name in used or is_taken(name, target):
            name = f"{stem}-{i}{suf}"
            target = dest / name
            i += 1
        if target.parent.resolve() != root or not is_inside(target, root) or target.is_symlink():
            lines.append(("err", f"refused {shown}: it would be saved outside the upload folder"))
            continue
        used.add(name)
        replaced = target.exists()  # the same upload again (a corrected edition): said, never silent
        part = dest / f".{name}.{os.getpid()}.{threading.get_ident()}.part"
        try:
            shutil.copyfile(tmp, part)
            os.replace(part, target)  # replaces a symlink itself, never writes through one
        except OSError as e:
            part.unlink(missing_ok=True)
            lines.append(("err", f"could not save {shown}: {e.strerror or e}"))
            continue
        label = shown if shown == name else f"{shown} (saved as {name})"
        labels[name] = label + (" — it replaces the earlier upload of that name" if replaced else "")
        saved.append(target)
    return saved, lines, labels


def private_temp_dir(data_dir: Path) -> Path:
    """A Gradio temp folder of this process only (mode 0700, under Assay's data folder), set as
    GRADIO_TEMP_DIR before the app is built, so that Gradio's file route of another instance on
    this host never serves this one's uploads (Gradio's default folder is shared host-wide).
    Folders of processes that are gone are removed now, this one's at exit."""
    import atexit

    base = Path(data_dir) / "gradio-tmp"
    base.mkdir(parents=True, exist_ok=True)
    for old in base.iterdir():
        if old.is_dir() and old.name.isdigit() and not _alive(int(old.name)):
            shutil.rmtree(old, ignore_errors=True)
    mine = base / str(os.getpid())
    mine.mkdir(mode=0o700, exist_ok=True)
    os.chmod(mine, 0o700)
    if gradio_temp_env(mine):
        atexit.register(shutil.rmtree, mine, True)
    return mine


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def upload_paths(files: Any) -> list[tuple[str, str]]:
    """gr.File value -> [(temp path, original name)]."""
    out = []
    for f in files or []:
        if isinstance(f, (str, Path)):
            out.append((str(f), Path(str(f)).name))
        elif isinstance(f, dict):
            out.append((f.get("path") or f.get("name"), f.get("orig_name") or Path(f.get("path") or "").name))
        else:
            path = getattr(f, "path", None) or getattr(f, "name", None)
            out.append((str(path), getattr(f, "orig_name", None) or Path(str(path)).name))
    return out


class UploadRouteLimits:
    """ASGI middleware: Assay's upload limits on Gradio's own upload route (`POST …/upload`), which
    any client can call directly: at most MAX_UPLOAD_FILES files a request, each of a supported
    type, and no more bytes than that many files of the size limit. The request is read into a
    spooled temporary file (memory up to 1 MB, then disk) while the part headers are checked, and
    refused with 400 or 413, naming the file, as soon as one fails; a request that passes is
    handed to Gradio unchanged (Gradio still checks each file's size)."""

    def __init__(self, app, max_files: int = MAX_UPLOAD_FILES, max_file_mb: float = 25.0,
                 suffixes: tuple[str, ...] = SUPPORTED_SUFFIXES):
        self.app = app
        self.max_files = max_files
        self.max_bytes = int(max_files * max_file_mb * 1024 * 1024) + (1 << 20)  # + room for the part headers
        self.suffixes = suffixes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST" or not scope.get("path", "").rstrip("/").endswith("/upload"):
            return await self.app(scope, receive, send)
        ctype = dict(scope.get("headers") or []).get(b"content-type", b"")
        m = re.search(rb"boundary=\"?([^\";]+)\"?", ctype)
        if not m:
            return await refuse(send, 400, "upload refused: not a multipart/form-data request")
        part = re.compile(rb"--" + re.escape(m.group(1)) + rb"\r\nContent-Disposition:[^\r\n]*?filename=\"([^\"\r\n]*)\"", re.I)
        spool = tempfile.SpooledTemporaryFile(max_size=1 << 20)
        try:
            files, total, tail, more = 0, 0, b"", True
            while more:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    return
                chunk = msg.get("body", b"")
                more = msg.get("more_body", False)
                total += len(chunk)
                if total > self.max_bytes:
                    return await refuse(send, 413, f"upload refused: more than {self.max_bytes // (1 << 20)} MB in one request")
                spool.write(chunk)
                window = tail + chunk
                for hit in part.finditer(window):
                    if hit.end() <= len(tail):
                        continue  # counted with the previous chunk
                    files += 1
                    name = hit.group(1).decode("utf-8", "replace")
                    if files > self.max_files:
                        return await refuse(send, 400, f"upload refused: more than {self.max_files} files in one request")
                    if Path(name).suffix.lower() not in self.suffixes:
                        return await refuse(send, 400, f"upload refused: {safe_filename(name)} is not a supported file "
                                                        f"(only {', '.join(self.suffixes)})")
                tail = window[-2048:]
            spool.seek(0)
            sent = False

            async def replay():
                nonlocal sent
                if sent:
                    return await receive()  # after the body: the client's disconnect, as Starlette expects
                data = spool.read(1 << 16)
                if len(data) < (1 << 16):
                    sent = True
                return {"type": "http.request", "body": data, "more_body": not sent}

            return await self.app(scope, replay, send)
        finally:
            spool.close()

