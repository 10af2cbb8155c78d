"""Small value types the layers share."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class AddressRange:
    """A run of IPv4 addresses, both ends included."""

    first: ipaddress.IPv4Address
    last: ipaddress.IPv4Address

    def __contains__(self, address: ipaddress.IPv4Address) -> bool:
        return self.first <= address <= self.last

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"
