"""A sandbox's network policy: its profile's, or what its create narrowed that to."""

from bay.config import ProfileSettings
from bay.db.models import Sandbox
from bay.egress.launch import Egress
from bay.egress.policy import WiderThanProfile, narrowed
from bay.egress.stats import Traffic
from bay.errors import InvalidRequestError
from shipyard_protocol.api import NetworkPolicy, SandboxNetwork


def chosen(profile: ProfileSettings, asked: NetworkPolicy | None) -> str | None:
    """What a create stores: the narrowed policy as JSON, or None to follow the profile."""
    if asked is None:
        return None
    try:
        return narrowed(profile.network, asked).model_dump_json()
    except WiderThanProfile as exc:
        raise InvalidRequestError(
            f"network wider than profile {profile.id} allows: {exc}",
            {"profile": profile.id, "allowed": profile.network.model_dump()},
        ) from exc


def policy(sandbox: Sandbox, profile: ProfileSettings) -> NetworkPolicy:
    if sandbox.network_policy is None:
        return profile.network
    return NetworkPolicy.model_validate_json(sandbox.network_policy)


def egress(sandbox: Sandbox, profile: ProfileSettings) -> Egress:
    return Egress(policy(sandbox, profile), profile.network_bandwidth_mbit)


def shown(sandbox: Sandbox, profile: ProfileSettings, traffic: Traffic | None) -> SandboxNetwork:
    """The policy as `GET /v1/sandboxes/{id}` shows it, with the running session's traffic."""
    counted = traffic or Traffic()
    return SandboxNetwork(
        **policy(sandbox, profile).model_dump(),
        bandwidth_mbit=profile.network_bandwidth_mbit,
        bytes_in=counted.bytes_in,
        bytes_out=counted.bytes_out,
    )
