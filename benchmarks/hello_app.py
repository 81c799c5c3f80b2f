"""The ceiling: a hello-world endpoint of the framework sessionhub is built on.

Run by ``run.py`` under uvicorn with the same settings as ``sessionhub serve``, in the
server's own environment, so the difference between ``GET /hello`` and a sessionhub hot
route is what sessionhub adds on top of FastAPI + uvicorn.
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"message": "hello"}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
