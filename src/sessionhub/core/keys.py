"""API keys: mint, list, revoke, resolve. Secrets are stored hashed and shown once."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sessionhub.domain.models import ApiKey, Principal
from sessionhub.store.base import NewKey, SessionStore

KEY_CACHE_SECONDS = 5.0


@dataclass
class KeyService:
    store: SessionStore
    _cache: dict[str, tuple[float, Principal | None]] = field(default_factory=dict)

    async def create(self, workspace_id: str, name: str, *, admin: bool) -> NewKey:
        return await self.store.create_key(workspace_id=workspace_id, name=name, admin=admin)

    async def list(self, workspace_id: str | None) -> list[ApiKey]:
        return await self.store.list_keys(workspace_id=workspace_id)

    async def revoke(self, workspace_id: str | None, key_id: str) -> None:
        await self.store.revoke_key(workspace_id=workspace_id, key_id=key_id)
        self.forget()

    async def count(self) -> int:
        return await self.store.count_keys()

    async def resolve(self, secret: str) -> Principal | None:
        """The key's principal; answers are cached briefly (a revoke elsewhere lands within 5 s)."""
        hit = self._cache.get(secret)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        principal = await self.store.resolve_key(secret=secret)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[secret] = (now + KEY_CACHE_SECONDS, principal)
        return principal

    def forget(self) -> None:
        self._cache.clear()
