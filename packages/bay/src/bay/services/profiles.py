"""The profile catalogue: lookup, public shape, capability routing and the limits a driver
enforces.

A profile lists its runtimes (`containers`: a ship and maybe a browser) or is one Ship (the
legacy fields), which reads as one container named `primary` offering the profile's
capabilities. A capability goes to the first runtime naming it in `primary_for`, else the
first offering it; the primary runtime is the one named `primary` or `ship`, else the first.
"""

import re

from bay.config import ContainerSettings, ProfileSettings, ResourceSettings
from bay.drivers.base import BrowserSpec, Limits
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
        return capabilities(profile) if profile else []

    def require(self, profile_id: str, capability: str) -> None:
        """Raise 400 `capability_not_supported` unless the profile offers `capability`."""
        available = self.capabilities(profile_id)
        if capability not in available:
            raise CapabilityNotSupportedError(
                f"Capability '{capability}' is not supported by profile '{profile_id}'",
                {"capability": capability, "available": available},
            )

    def limits(self, profile: ProfileSettings) -> Limits:
        """Ship's limits: the primary runtime's."""
        return _limits(primary(profile).resources)

    def browser(self, profile: ProfileSettings) -> BrowserSpec | None:
        """The browser a session of `profile` runs, with its runtime's limits; None without."""
        if "browser" not in capabilities(profile):
            return None
        return BrowserSpec(limits=_limits(route(profile, "browser").resources))

    def listing(self, detail: bool) -> ProfileList:
        return ProfileList(items=[_public(p, detail) for p in self._profiles.values()])


def runtimes(profile: ProfileSettings) -> list[ContainerSettings]:
    """The profile's runtimes; a legacy profile is one Ship named `primary`."""
    if profile.containers:
        return list(profile.containers)
    offered = [c for c in profile.capabilities if c != "browser" or profile.browser is None]
    legacy = ContainerSettings(
        name="primary",
        capabilities=offered,
        primary_for=offered,
        resources=profile.resources,
        env=profile.env,
    )
    if profile.browser != "isolated":
        return [legacy]
    # An isolated browser without a container of its own shares the profile's limits.
    browser = ContainerSettings(
        name="browser",
        runtime_type="browser",
        capabilities=["browser"],
        resources=profile.resources,
    )
    return [legacy, browser]


def capabilities(profile: ProfileSettings) -> list[str]:
    """The explicit `capabilities` list, else the union of the runtimes' (in order)."""
    explicit = "capabilities" in profile.model_fields_set or not profile.containers
    listed = list(profile.capabilities) if explicit else []
    if not explicit:
        for runtime in runtimes(profile):
            listed += [c for c in runtime.capabilities if c not in listed]
    if profile.browser == "isolated" and "browser" not in listed:
        listed.append("browser")
    return listed


def environment(profile: ProfileSettings) -> dict[str, str]:
    """The profile's env with each runtime's over it (the primary's last): they all run as
    one sandbox's programs, or share its cargo and network beside it."""
    merged = dict(profile.env)
    chief = primary(profile)
    for runtime in [r for r in runtimes(profile) if r.name != chief.name] + [chief]:
        merged.update(runtime.env)
    return merged


def primary(profile: ProfileSettings) -> ContainerSettings:
    found = runtimes(profile)
    named = [c for c in found if c.name in ("primary", "ship")]
    return (named or found)[0]


def route(profile: ProfileSettings, capability: str) -> ContainerSettings:
    """The runtime that serves `capability` (the primary one when none names it)."""
    found = runtimes(profile)
    first = [r for r in found if capability in r.primary_for]
    offering = [r for r in found if capability in r.capabilities]
    return (first or offering or [primary(profile)])[0]


def _limits(resources: ResourceSettings) -> Limits:
    return Limits(
        cpus=resources.cpus, memory_bytes=memory_bytes(resources.memory), pids=resources.pids
    )


def _resources(resources: ResourceSettings) -> Resources:
    return Resources(cpus=resources.cpus, memory=resources.memory)


def _public(profile: ProfileSettings, detail: bool) -> Profile:
    containers = [
        ProfileContainer(
            name=runtime.name,
            runtime_type=runtime.runtime_type,
            capabilities=sorted(runtime.capabilities),
            resources=_resources(runtime.resources),
        )
        for runtime in runtimes(profile)
    ]
    return Profile(
        id=profile.id,
        image=profile.image,
        resources=_resources(primary(profile).resources),
        capabilities=capabilities(profile),
        idle_timeout=profile.idle_timeout,
        description=profile.description if detail else None,
        containers=containers if detail else None,
        preload=list(profile.preload) if detail else None,
        network=profile.network if detail else None,
        warm_pool_size=profile.warm_pool_size if detail else None,
    )
