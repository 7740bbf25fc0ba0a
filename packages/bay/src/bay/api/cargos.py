"""Cargo routes: external volumes that outlive sandboxes."""

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from bay.api.deps import Caller, Cargos, Idempotency, IdempotencyKeyHeader
from bay.services.cargos import cargo_out
from shipyard_protocol.api import Cargo, CargoCreate, CargoList

router = APIRouter(prefix="/v1/cargos", tags=["cargos"])


@router.post("", status_code=201, response_model=Cargo)
async def create_cargo(
    caller: Caller,
    cargos: Cargos,
    idempotency: Idempotency,
    body: Annotated[CargoCreate | None, Body()] = None,
    key: IdempotencyKeyHeader = None,
) -> Response:
    request = body or CargoCreate()
    answer = await idempotency.run(
        caller.owner,
        key,
        "POST:/v1/cargos",
        request,
        201,
        lambda: cargos.create_external(caller.owner, request.size_limit_mb),
    )
    return Response(answer.body, status_code=answer.status, media_type="application/json")


@router.get("")
async def list_cargos(
    caller: Caller,
    cargos: Cargos,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
    managed: bool | None = None,
) -> CargoList:
    return await cargos.page(caller.owner, limit, cursor, managed)


@router.get("/{cargo_id}")
async def get_cargo(cargo_id: str, caller: Caller, cargos: Cargos) -> Cargo:
    return cargo_out(await cargos.get(caller.owner, cargo_id))


@router.delete("/{cargo_id}", status_code=204)
async def delete_cargo(cargo_id: str, caller: Caller, cargos: Cargos) -> Response:
    await cargos.delete(caller.owner, cargo_id)
    return Response(status_code=204)
