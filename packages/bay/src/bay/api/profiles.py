"""`GET /v1/profiles` (no auth, as upstream)."""

from fastapi import APIRouter

from bay.api.deps import Profiles
from shipyard_protocol.api import ProfileList

router = APIRouter(prefix="/v1/profiles", tags=["profiles"])


@router.get("")
async def list_profiles(profiles: Profiles, detail: bool = False) -> ProfileList:
    return profiles.listing(detail)
