"""The yardstick: a bare FastAPI endpoint, served the same way as threadloom."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/bare")
async def bare() -> dict[str, bool]:
    return {"ok": True}
