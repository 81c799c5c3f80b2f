"""Drivers by kind, loaded from the ``sessionhub.drivers`` entry points."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TypeVar

from sessionhub.core.ports import Driver, Host
from sessionhub.domain.errors import Invalid, Unavailable

GROUP = "sessionhub.drivers"
D = TypeVar("D", bound=Driver)


class DriverRegistry:
    def __init__(self, drivers: dict[str, Driver] | None = None) -> None:
        self._drivers: dict[str, Driver] = dict(drivers or {})

    @classmethod
    def from_entry_points(cls, extra: list[Driver] | None = None) -> DriverRegistry:
        """Load every installed driver; a plugin that fails to import is an error."""
        registry = cls()
        for ep in entry_points(group=GROUP):
            driver_cls = ep.load()
            registry.register(driver_cls())
        for driver in extra or []:
            registry.register(driver)
        return registry

    def register(self, driver: Driver) -> None:
        self._drivers[driver.kind] = driver

    def get(self, kind: str) -> Driver:
        try:
            return self._drivers[kind]
        except KeyError:
            known = ", ".join(sorted(self._drivers))
            raise Invalid(f"unknown session kind {kind!r}; known kinds: {known}") from None

    def get_as(self, kind: str, driver_type: type[D]) -> D:
        """The driver of ``kind``, which its own kind's rules expect to be ``driver_type``."""
        driver = self.get(kind)
        if not isinstance(driver, driver_type):
            raise Unavailable(f"the {kind} kind's driver is not {driver_type.__name__}")
        return driver

    def kinds(self) -> list[str]:
        return sorted(self._drivers)

    async def open(self, host: Host) -> None:
        for driver in self._drivers.values():
            await driver.open(host)

    async def close(self) -> None:
        for driver in self._drivers.values():
            await driver.close()
