"""Bearer-token access: with a token set, every route but the open ones needs `Authorization: Bearer T`.

Open: liveness and readiness (for load balancers), the page shell and its static files (they hold no
data; the page asks for the token and sends it with every call), the favicon, and the API docs. The
comparison is constant-time (hmac.compare_digest), so response timing does not leak the token.
"""

from __future__ import annotations

import hmac
import json

from starlette.types import ASGIApp, Receive, Scope, Send

OPEN_PATHS = frozenset(
    {"/", "/view/duplicates", "/health", "/ready", "/favicon.ico", "/docs", "/openapi.json"}
)  # pages and checks that hold no data
OPEN_PREFIXES = ("/static/", "/static-offline-docs/")
UNAUTHORIZED = {"error": "missing or wrong API token: send Authorization: Bearer <token>", "detail": None}


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


class BearerAuth:
    """Pure ASGI middleware: 401 JSON for a missing or wrong token, before the app reads the body."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"authorization", b"")
        if hmac.compare_digest(given, self._expected):
            await self.app(scope, receive, send)
            return
        body = json.dumps(UNAUTHORIZED).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="pixseek"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
