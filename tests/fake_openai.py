"""A stand-in for a remote OpenAI-compatible endpoint (the one boundary that cannot run here):
it speaks the real wire format (POST /v1/chat/completions, `stream: true` as server-sent events of
chat.completion.chunk objects ending in [DONE]; a JSON chat.completion otherwise) and answers
with a scripted reply in which `{p1}` is replaced by the first sentence of passage 1 of the
prompt, so that a reply can mix a supported sentence with false ones."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _first_sentence_of_passage_1(messages: list[dict]) -> str:
    user = next((m.get("content", "") for m in messages if m.get("role") == "user"), "")
    m = re.search(r'<passage n="1"[^>]*>\s*(.+?)</passage>', user if isinstance(user, str) else json.dumps(user), re.S)
    text = " ".join((m.group(1) if m else "").split())
    end = re.search(r"(?<=[a-z0-9)])[.!?](\s|$)", text)
    return text[: end.end()].strip() if end else text


class FakeOpenAI:
    def __init__(self, reply: str, chunk_words: int = 3, plain_reply: str | None = None):
        """`reply` for answer requests; `plain_reply` (default `reply`) for query rewrites (a
        system prompt asking for a standalone query: Assay's follow-up condense call)."""
        self.reply, self.chunk_words, self.requests = reply, chunk_words, []
        self.plain_reply = reply if plain_reply is None else plain_reply
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                outer.requests.append(body)
                system = " ".join(str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "system")
                body["kind"] = "condense" if "standalone" in system.lower() else "answer"
                text = (outer.plain_reply if body["kind"] == "condense" else outer.reply).replace("{p1}", _first_sentence_of_passage_1(body.get("messages", [])))
                if not body.get("stream"):
                    out = json.dumps({"id": "c1", "object": "chat.completion", "created": 0, "model": body.get("model", "m"),
                                      "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                                      "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                words = re.findall(r"\S+\s*", text)
                for i in range(0, len(words), outer.chunk_words):
                    delta = {"content": "".join(words[i : i + outer.chunk_words])}
                    if i == 0:
                        delta["role"] = "assistant"
                    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": body.get("model", "m"),
                             "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                end = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m",
                       "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
                self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def spec(self) -> str:
        return f"openai:fake@http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
