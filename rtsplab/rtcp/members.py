"""The member table's parts (RFC 3550 §6.2.1, §8.2): an entry, a collision, the conflicting
address list, and the bound on the members one source address may add.

`rtsplab.rtcp.group.RtcpGroup` keeps the table itself; these are its pieces, each pure and
small. Addresses are as recvfrom() gives them: (host, port), or IPv6's 4-tuple.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

# A source transport address as recvfrom() gives it: (host, port) or IPv6's 4-tuple.
Address = tuple[str | int, ...]
# §8.2 keeps a data and a control address per source: their ports usually differ.
Channel = Literal["rtp", "rtcp"]
RTP: Channel = "rtp"
RTCP: Channel = "rtcp"

# §8.2: the conflicting address list "should be short, usually empty"; an entry may go after
# "on the order of 10 RTCP report intervals" without a conflicting packet.
CONFLICT_TIMEOUT_INTERVALS = 10
MAX_CONFLICTS = 64
# New members one source address may add per report interval. A host runs a few members of
# a lab's group (several clients and the server on one machine); a member inventing SSRCs
# by the thousand adds these few per interval, and they time out as any silent member does,
# so the work one address can cause stays bounded (§6.2.1 sizes the table by the group).
NEW_MEMBERS_PER_ADDRESS = 16
MAX_TRACKED_ADDRESSES = 256  # addresses whose new members are being counted at once


@dataclass(slots=True)
class Member:
    """One entry of the member table (§6.2.1, §8.2)."""

    ssrc: int
    cname: str | None = None  # from SDES (§6.5.1)
    is_sender: bool = False  # RTP or an SR within the last 2T (§6.3.5)
    last_heard: float = 0.0  # last RTP or RTCP packet; for a member that left, its BYE
    last_rtp: float | None = None
    last_sr: float | None = None
    bye: bool = False  # said BYE: no longer counted, deleted a little later
    # §8.2: the addresses of the first RTP and the first RTCP packet with this SSRC.
    rtp_address: Address | None = None
    rtcp_address: Address | None = None

    def address(self, channel: Channel) -> Address | None:
        return self.rtp_address if channel == RTP else self.rtcp_address

    def set_address(self, channel: Channel, address: Address) -> None:
        if channel == RTP:
            self.rtp_address = address
        else:
            self.rtcp_address = address


@dataclass(frozen=True, slots=True)
class Collision:
    """Another source uses our SSRC (§8.2): send a BYE for it and take a new one."""

    ssrc: int  # ours, until `RtcpGroup.change_ssrc`
    channel: Channel
    address: Address  # where the other source's packet came from
    cname: str | None  # its CNAME, when the packet was an SDES chunk with one
    time: float


class ConflictList:
    """§8.2's list of conflicting source addresses, oldest first, at most MAX_CONFLICTS.

    A collision claimed again from a host already listed, from any of its ports, is acted on
    once only: a third party repeating it is a loop to ignore, not a reason to keep changing.
    """

    def __init__(self) -> None:
        self._heard: OrderedDict[tuple[Channel, Address], float] = OrderedDict()

    def listed(self, channel: Channel, address: Address) -> tuple[Channel, Address] | None:
        """The entry for `address`'s host on `channel`, if there is one."""
        if (channel, address) in self._heard:
            return channel, address
        host = address[0]
        return next((key for key in self._heard if key[0] == channel and key[1][0] == host), None)

    def refresh(self, key: tuple[Channel, Address], now: float) -> None:
        self._heard[key] = now
        self._heard.move_to_end(key)

    def add(self, channel: Channel, address: Address, now: float) -> None:
        if len(self._heard) >= MAX_CONFLICTS:
            self._heard.popitem(last=False)
        self._heard[(channel, address)] = now

    def expire(self, cutoff: float) -> None:
        for key, heard in list(self._heard.items()):
            if heard < cutoff:
                del self._heard[key]

    def __iter__(self) -> Iterator[tuple[Channel, Address]]:
        return iter(list(self._heard))


class NewMemberLimit:
    """At most NEW_MEMBERS_PER_ADDRESS new members from one host per `window` seconds."""

    def __init__(self, per_window: int = NEW_MEMBERS_PER_ADDRESS) -> None:
        self.per_window = per_window
        self._windows: OrderedDict[str | int, tuple[float, int]] = OrderedDict()
        self.refused = 0  # new SSRCs turned away

    def allow(self, address: Address, now: float, window: float) -> bool:
        """Whether `address` may add one more member now (and, if so, count it)."""
        host = address[0]
        start, count = self._windows.pop(host, (now, 0))
        if now - start >= window:
            start, count = now, 0
        if count >= self.per_window:
            self._windows[host] = (start, count)
            self.refused += 1
            return False
        self._windows[host] = (start, count + 1)
        if len(self._windows) > MAX_TRACKED_ADDRESSES:
            self._windows.popitem(last=False)
        return True
