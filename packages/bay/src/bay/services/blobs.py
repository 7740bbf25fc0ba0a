"""Blobs: owner-scoped JSON documents named `blob:blob-…` (skill payloads, browser traces)."""

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession as DbSession

from bay.db.models import ArtifactBlob
from bay.errors import InvalidRequestError, NotFoundError
from bay.services.clock import Clock
from bay.services.ids import new_id
from shipyard_protocol.skills import SkillPayload, SkillPayloadCreate, SkillPayloadRef

REF_PREFIX = "blob:"


def blob_id(ref: str) -> str:
    """The blob id inside `ref`; anything but `blob:blob-…` is a 400."""
    if not ref.startswith(REF_PREFIX) or not ref.removeprefix(REF_PREFIX).startswith("blob-"):
        raise InvalidRequestError(
            f"Invalid payload reference {ref!r}: expected 'blob:blob-…'", {"payload_ref": ref}
        )
    return ref.removeprefix(REF_PREFIX)


class BlobService:
    def __init__(self, db: DbSession, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def put(self, owner: str, kind: str, payload: dict[str, Any] | list[Any]) -> str:
        """Store `payload` and answer its reference."""
        blob = new_blob(owner, kind, payload, self._clock())
        self._db.add(blob)
        await self._db.flush()
        return blob_ref(blob)

    async def create_payload(self, owner: str, request: SkillPayloadCreate) -> SkillPayloadRef:
        """`POST /v1/skills/payloads`."""
        ref = await self.put(owner, request.kind, request.payload)
        return SkillPayloadRef(payload_ref=ref, kind=request.kind)

    async def payload(self, owner: str, ref: str) -> SkillPayload:
        """`GET /v1/skills/payloads/{ref}`."""
        blob = await self.get(owner, ref)
        return SkillPayload(payload_ref=ref, kind=blob.kind, payload=blob_payload(blob))

    async def get(self, owner: str, ref: str) -> ArtifactBlob:
        """The caller's blob named by `ref`: 400 for a malformed ref, 404 for an unknown one."""
        found = await self.find(owner, ref)
        if found is None:
            raise NotFoundError(f"Payload not found: {ref}")
        return found

    async def find(self, owner: str, ref: str) -> ArtifactBlob | None:
        """Like `get`, but None for an unknown ref (a malformed one is still a 400)."""
        return await self._db.scalar(
            select(ArtifactBlob).where(ArtifactBlob.id == blob_id(ref), ArtifactBlob.owner == owner)
        )


def new_blob(
    owner: str, kind: str, payload: dict[str, Any] | list[Any], now: datetime
) -> ArtifactBlob:
    """A blob row to add in whichever transaction stores it."""
    return ArtifactBlob(
        id=new_id("blob"),
        owner=owner,
        kind=kind,
        payload_json=json.dumps(payload, ensure_ascii=False),
        created_at=now,
    )


def blob_ref(blob: ArtifactBlob) -> str:
    return REF_PREFIX + blob.id


def blob_payload(blob: ArtifactBlob) -> dict[str, Any] | list[Any]:
    payload: dict[str, Any] | list[Any] = json.loads(blob.payload_json)
    return payload
