"""`GET /v1/profiles` (no auth, as upstream)."""

from fastapi import APIRouter
from shipyard_protocol.api import ProfileList

from bay.api.deps import Profiles

router = APIRouter(prefix="/v1/profiles", tags=["profiles"])


@router.get("")
async def list_profiles(profiles: Profiles, detail: bool = False) -> ProfileList:
    return profiles.listing(detail)
