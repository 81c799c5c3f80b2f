"""What one running server holds, built once in the app's lifespan."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sessionhub.config import Settings
from sessionhub.core.bus import EventBus
from sessionhub.core.service import SessionService
from sessionhub.domain.models import Principal
from sessionhub.store.base import SessionStore

KEY_CACHE_SECONDS = 5.0


@dataclass
class Hub:
    settings: Settings
    store: SessionStore
    service: SessionService
    bus: EventBus
    default_workspace_id: str = ""
    _keys: dict[str, tuple[float, Principal | None]] = field(default_factory=dict)
    _open: Principal | None = None

    def open_principal(self) -> Principal:
        """Who calls a ``--no-auth`` server: an admin of the default workspace (made once)."""
        if self._open is None or self._open.workspace_id != self.default_workspace_id:
            self._open = Principal(workspace_id=self.default_workspace_id, admin=True)
        return self._open

    async def principal_for(self, secret: str) -> Principal | None:
        """Resolve a key; answers are cached briefly (a revoke elsewhere lands within 5 s)."""
        hit = self._keys.get(secret)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        principal = await self.store.resolve_key(secret=secret)
        if len(self._keys) > 10_000:
            self._keys.clear()
        self._keys[secret] = (now + KEY_CACHE_SECONDS, principal)
        return principal

    def forget_keys(self) -> None:
        self._keys.clear()
