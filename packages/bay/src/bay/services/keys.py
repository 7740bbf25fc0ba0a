"""API keys: hashed at rest, one owner each; the first key is generated at first start."""

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession as DbSession

from bay.db.models import ApiKey
from bay.errors import NotFoundError, UnauthorizedError
from bay.services.clock import Clock
from bay.services.ids import new_id
from shipyard_protocol.api import KeyCreated, KeyInfo, KeyList, rfc3339

ADMIN_OWNER = "default"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the owner every query is scoped to, and whether admin calls are allowed."""

    owner: str
    is_admin: bool = False


@dataclass(frozen=True)
class Provisioned:
    """What startup did about keys: a freshly generated key is shown once."""

    generated_key: str | None
    credentials_path: Path | None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> str:
    return "sk-bay-" + secrets.token_hex(32)


class KeyService:
    def __init__(self, db: DbSession, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def authenticate(self, token: str) -> Principal:
        row = await self._db.scalar(
            select(ApiKey).where(ApiKey.key_hash == hash_key(token), ApiKey.is_active)
        )
        if row is None:
            raise UnauthorizedError("Invalid API key")
        return Principal(owner=row.owner, is_admin=row.is_admin)

    async def add(self, key: str, owner: str, is_admin: bool) -> ApiKey:
        row = ApiKey(
            id=new_id("key"),
            key_hash=hash_key(key),
            key_prefix=key[:12],
            owner=owner,
            is_admin=is_admin,
            is_active=True,
            created_at=self._clock(),
        )
        self._db.add(row)
        await self._db.flush()
        return row

    async def create(self, owner: str, is_admin: bool = False) -> KeyCreated:
        """A new key for `owner`; the secret is returned this once and stored only hashed."""
        key = generate_key()
        row = await self.add(key, owner, is_admin)
        return KeyCreated(id=row.id, owner=owner, api_key=key, is_admin=is_admin)

    async def listing(self) -> KeyList:
        rows = await self._db.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id))
        return KeyList(items=[_key_info(row) for row in rows])

    async def revoke(self, key_id: str) -> None:
        """Deactivate a key (a Bay that remembers it recently forgets it: see recent_keys)."""
        row = await self._db.get(ApiKey, key_id)
        if row is None:
            raise NotFoundError(f"API key not found: {key_id}")
        if row.is_active:
            row.is_active = False
            row.deactivated_at = self._clock()
            await self._db.flush()

    async def provision(
        self, configured: str | None, credentials: Path, endpoint: str
    ) -> Provisioned:
        """Seed the configured admin key, or generate one on first start (contract §1.2)."""
        if configured:
            if await self._find(configured) is None:
                await self.add(configured, ADMIN_OWNER, is_admin=True)
            return Provisioned(generated_key=None, credentials_path=None)
        if await self._has_active_admin():
            return Provisioned(generated_key=None, credentials_path=credentials)
        key = generate_key()
        await self.add(key, ADMIN_OWNER, is_admin=True)
        _write_credentials(credentials, key, endpoint, rfc3339(self._clock()))
        return Provisioned(generated_key=key, credentials_path=credentials)

    async def _find(self, key: str) -> ApiKey | None:
        return await self._db.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))

    async def _has_active_admin(self) -> bool:
        query = select(ApiKey.id).where(ApiKey.is_active, ApiKey.is_admin).limit(1)
        return await self._db.scalar(query) is not None


def _key_info(row: ApiKey) -> KeyInfo:
    return KeyInfo(
        id=row.id,
        owner=row.owner,
        key_prefix=row.key_prefix,
        is_admin=row.is_admin,
        is_active=row.is_active,
        created_at=row.created_at,
        deactivated_at=row.deactivated_at,
    )


def _write_credentials(path: Path, key: str, endpoint: str, generated_at: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"api_key": key, "endpoint": endpoint, "generated_at": generated_at}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(body, handle, indent=2)
    os.chmod(path, 0o600)
