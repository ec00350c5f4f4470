"""A loopback stand-in for the Hub's HTTP API: enough of it for ``create_repo`` + ``upload_folder``.

It records every request (method, path, headers, body) so tests can check what the real
``huggingface_hub`` client sent. Files are accepted as "regular" uploads (inline base64 in the commit),
so no LFS / Xet transfer is involved.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeHub:
    calls: list[Call] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # path in repo -> content of the last commit
    repos: list[dict[str, Any]] = field(default_factory=list)
    branches: list[str] = field(default_factory=list)
    url: str = ""
    reject_auth: bool = False  # answer 401 quoting the Authorization header (as a careless server might)

    def record(self, call: Call) -> None:
        self.calls.append(call)


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def _reply(self, status: int, obj: Any) -> None:
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def do_GET(self) -> None:  # noqa: N802 - http.server API
            hub.record(Call("GET", self.path, {k.lower(): v for k, v in self.headers.items()}, b""))
            self._reply(404, {"error": "not found"})

        def do_POST(self) -> None:  # noqa: N802 - http.server API
            body = self._body()
            hub.record(Call("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            path = self.path.split("?")[0]
            if hub.reject_auth:
                self._reply(401, {"error": f"invalid credentials: {self.headers.get('Authorization')}"})
            elif path == "/api/repos/create":
                req = json.loads(body)
                hub.repos.append(req)
                self._reply(200, {"url": f"{hub.url}/datasets/{req.get('organization')}/{req['name']}"})
            elif path == "/api/validate-yaml":
                # stands in for the Hub's validator: our local checks of the card metadata
                from mmretinal_builder.export.card import check_card

                problems = check_card(json.loads(body)["content"])
                self._reply(400 if problems else 200, {"error": "; ".join(problems)} if problems else {"warnings": []})
            elif "/preupload/" in path:
                req = json.loads(body)
                self._reply(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                            for f in req["files"]]})
            elif "/branch/" in path:
                hub.branches.append(path.rsplit("/branch/", 1)[1])
                self._reply(200, {})
            elif "/commit/" in path:
                for line in body.splitlines():
                    op = json.loads(line)
                    if op.get("key") == "file":
                        v = op["value"]
                        hub.files[v["path"]] = base64.b64decode(v["content"])
                oid = "0" * 40
                repo = path.removeprefix("/api/datasets/").split("/commit/")[0]
                self._reply(200, {"commitUrl": f"{hub.url}/datasets/{repo}/commit/{oid}", "commitOid": oid,
                                  "pullRequestUrl": None})
            else:
                self._reply(404, {"error": f"unexpected {path}"})

    return Handler


class serve_fake_hub:  # noqa: N801 - used as a context manager, reads like a function
    """``with serve_fake_hub() as hub:`` -> a running server on 127.0.0.1 at ``hub.url``."""

    def __enter__(self) -> FakeHub:
        self.hub = FakeHub()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.hub))
        self.hub.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self.hub

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
