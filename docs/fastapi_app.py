"""A FastAPI app running the scheduler: run it with `uvicorn docs.fastapi_app:app`."""

from fastapi import FastAPI

from scheduler.http import scheduler_lifespan, scheduler_router

app = FastAPI(lifespan=scheduler_lifespan())  # load, refuse invalid, start, hot reload, stop
app.include_router(scheduler_router(), prefix="/scheduler")  # API, dashboard, /metrics


@app.get("/")
def home() -> dict[str, str]:
    """Your own routes live beside the scheduler's."""
    return {"dashboard": "/scheduler/", "api": "/scheduler/api/jobs"}
