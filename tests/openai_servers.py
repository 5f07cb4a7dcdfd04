"""Real OpenAI-compatible servers on 127.0.0.1 for tests and benchmarks.

- ``LlamaServer``: llama.cpp's server (llama-cpp-python[server]) serving SmolLM2's GGUF.
- ``ScriptedServer``: a small threaded HTTP server that answers /v1/chat/completions with a
  fixed completion and misbehaves on purpose (stalls, 500s, 429s), counting the requests it
  has in flight at once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from manip.teachers.models import smollm2_gguf
from tests.cluster import free_port


class LlamaServer:
    def __init__(self, n_ctx: int = 2048, log_path=None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._log = open(log_path or "/dev/null", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(smollm2_gguf()),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--n_ctx",
                str(n_ctx),
                "--model_alias",
                "smollm2-135m",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited with {self.proc.returncode}")
            try:
                if httpx.get(f"{self.url}/models", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError("llama.cpp server did not start within 120 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


class ScriptedServer:
    """``fail_first``: answer the first N requests with ``fail_status``; ``stall_s``: hold each
    request that long before answering; ``delay_s``: a normal service time."""

    def __init__(
        self,
        completion: str,
        *,
        fail_first: int = 0,
        fail_status: int = 500,
        stall_s: float = 0.0,
        delay_s: float = 0.0,
    ) -> None:
        self.completion = completion
        self.fail_first, self.fail_status = fail_first, fail_status
        self.stall_s, self.delay_s = stall_s, delay_s
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.requests += 1
                    n = server.requests
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    time.sleep(server.delay_s + server.stall_s)
                    if n <= server.fail_first:
                        self._send(server.fail_status, {"error": {"message": "scripted failure"}})
                        return
                    self._send(
                        200,
                        {
                            "id": f"c{n}",
                            "object": "chat.completion",
                            "model": body["model"],
                            "choices": [
                                {
                                    "index": 0,
                                    "message": {"role": "assistant", "content": server.completion},
                                    "finish_reason": "stop",
                                }
                            ],
                            "usage": {
                                "prompt_tokens": 100,
                                "completion_tokens": 20,
                                "total_tokens": 120,
                            },
                        },
                    )
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # the default backlog of 5 would serialise a burst

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
