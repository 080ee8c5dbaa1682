"""The ceiling: hello-world routes on the same framework, app server and workers as credgate.

``GET /hello`` and ``POST /hello`` (which reads its form body, as the token endpoint does)
answer a small JSON document; nothing else happens.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse

app = FastAPI()


@app.get("/hello")
async def hello() -> JSONResponse:
    return JSONResponse({"hello": "world"})


@app.post("/hello")
async def hello_post(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse({"hello": "world"})
