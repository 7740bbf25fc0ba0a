"""`GET /metrics`: Prometheus text exposition (see bay.metrics for what it holds)."""

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from bay.api.deps import BayState, Scraper

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    dependencies=[Scraper],
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
async def metrics(state: BayState) -> Response:
    await state["census"].refresh()
    return Response(state["metrics"].exposition(), media_type=CONTENT_TYPE_LATEST)
