"""The profile catalogue: lookup, public shape and the limits a driver enforces."""

import re

from bay.config import ProfileSettings
from bay.drivers.base import Limits
from bay.errors import CapabilityNotSupportedError, InvalidRequestError
from shipyard_protocol.api import Profile, ProfileContainer, ProfileList, Resources

_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def memory_bytes(text: str) -> int:
    """Parse `512m`, `1g`, `1Gi`, `1073741824` into bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?\s*", text.lower())
    if match is None:
        raise ValueError(f"not a memory size: {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


class ProfileCatalog:
    """The profiles; `runtimes` are those the driver gives (None: any the engine has)."""

    def __init__(
        self, profiles: list[ProfileSettings], runtimes: frozenset[str] | None = None
    ) -> None:
        self._profiles = {profile.id: profile for profile in profiles}
        self._runtimes = runtimes

    def get(self, profile_id: str) -> ProfileSettings:
        profile = self._profiles.get(profile_id)
        if profile is None:
            raise InvalidRequestError(f"Invalid profile: {profile_id}", {"profile": profile_id})
        return profile

    def find(self, profile_id: str) -> ProfileSettings | None:
        return self._profiles.get(profile_id)

    def runnable(self, profile_id: str) -> ProfileSettings:
        """The profile a new sandbox asks for; 400 when this Bay's driver cannot give its
        runtime, rather than a sandbox behind a weaker wall than asked."""
        profile = self.get(profile_id)
        if not self.runs(profile_id):
            raise InvalidRequestError(
                f"Profile {profile_id} asks for runtime {profile.runtime}, which this Bay's "
                "driver cannot give (the local driver runs bubblewrap only); use the docker "
                "driver with that runtime registered",
                {"profile": profile_id, "runtime": profile.runtime},
            )
        return profile

    def runs(self, profile_id: str) -> bool:
        """Whether this Bay's driver gives the profile's runtime."""
        runtime = self.get(profile_id).runtime
        return not runtime or self._runtimes is None or runtime in self._runtimes

    def ids(self) -> list[str]:
        return list(self._profiles)

    def capabilities(self, profile_id: str) -> list[str]:
        profile = self._profiles.get(profile_id)
        return list(profile.capabilities) if profile else []

    def require(self, profile_id: str, capability: str) -> None:
        """Raise 400 `capability_not_supported` unless the profile offers `capability`."""
        available = self.capabilities(profile_id)
        if capability not in available:
            raise CapabilityNotSupportedError(
                f"Capability '{capability}' is not supported by profile '{profile_id}'",
                {"capability": capability, "available": available},
            )

    def limits(self, profile: ProfileSettings) -> Limits:
        resources = profile.resources
        return Limits(
            cpus=resources.cpus, memory_bytes=memory_bytes(resources.memory), pids=resources.pids
        )

    def listing(self, detail: bool) -> ProfileList:
        return ProfileList(items=[_public(p, detail) for p in self._profiles.values()])


def _public(profile: ProfileSettings, detail: bool) -> Profile:
    resources = Resources(cpus=profile.resources.cpus, memory=profile.resources.memory)
    container = ProfileContainer(
        name="primary",
        runtime_type="ship",
        capabilities=sorted(profile.capabilities),
        resources=resources,
    )
    return Profile(
        id=profile.id,
        image=profile.image,
        resources=resources,
        capabilities=list(profile.capabilities),
        idle_timeout=profile.idle_timeout,
        description=profile.description if detail else None,
        containers=[container] if detail else None,
        preload=list(profile.preload) if detail else None,
        network=profile.network if detail else None,
        warm_pool_size=profile.warm_pool_size if detail else None,
    )
