"""A client session's media: what it receives (RTP, RTCP) and the thread that receives it.

`ClientMedia` is one session's receiving state: the pure `RtpReceiver`, the RTCP driver
(`ClientRtcp`, around its engine), when packets came and whether the server said BYE. One
thread feeds it at a time (the `UdpListener` over UDP, the connection's owner thread when RTP
is interleaved on the RTSP connection) and the owner thread touches it at PLAY and TEARDOWN,
so every change happens under its small lock; frames and the end of the stream are handed to
the callbacks outside it. Any thread reads its figures (`summary`) under the same lock.

The lock order: `ClientMedia.lock` first, then the `ClientRtcp`'s own, never the other way.
Everything that reaches the RTCP side goes through `ClientMedia` with its lock held (the
reports, whose reception statistics the RTP path and PLAY change, included), and `ClientRtcp`
calls nothing back: the SSRC changes it follows come back as values, and the frames they
complete are delivered once both locks are let go.

Media and RTCP are taken only from the server: RTP from the RTSP peer's address, with the
SSRC its SETUP reply names when it names one, from any port unless told to keep to the one
the reply names (`RtpReceiver` checks), and RTCP only from the server's address and RTCP port
(the RTCP engine checks; in a group, it sorts the members').

The feeding thread also says when it found nothing waiting (`caught_up`): silence counts from
the last packet up to then, never up to a clock read before what waited was read.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from rtsplab.client.rtcp import ClientRtcp
from rtsplab.client.session import INTERLEAVED_CHANNELS
from rtsplab.rtcp.compound import decode_compound
from rtsplab.rtcp.packet import RtcpError
from rtsplab.rtcp.reports import SenderReport
from rtsplab.rtp.receiver import ReceivedFrame, RtpReceiver

log = logging.getLogger(__name__)

Address = tuple[str, int]
FrameCallback = Callable[[bytes, int], None]
ClockCallback = Callable[[int, int], None]  # an SR's (NTP timestamp, RTP timestamp)

RTP_POLL = 0.2  # how often the receiving thread looks up from its sockets (stop, RTCP timer)
MAX_DATAGRAM = 65_535
RTP_BATCH = 256  # datagrams read per wake-up: a 4K frame is ~540; RTCP gets a look in between
MAX_DRAIN = 100_000  # what can sit in an 8 MiB receive buffer, and then some
# A silence in the RTP this long, the stream then going on, is an outage (a stall, a stopped
# process): counted in the summary. Longer than any pause between a stream's frames (1 fps at
# the slowest) or the bursts of one.
OUTAGE_GAP = 1.5


@dataclass(frozen=True)
class MediaSockets:
    """A session's UDP sockets, bound together: RTP, and RTCP on the next port (None when
    that port was taken: the session then goes on without RTCP)."""

    rtp: socket.socket
    rtcp: socket.socket | None

    def rtcp_sender(self, destination: Address) -> Callable[[bytes], object] | None:
        """How RTCP reaches `destination` from our RTCP port; None without one."""
        rtcp = self.rtcp
        if rtcp is None:
            return None
        return lambda datagram: rtcp.sendto(datagram, destination)

    def close(self) -> None:
        for sock in (self.rtp, self.rtcp):
            if sock is not None:
                sock.close()


@dataclass(frozen=True)
class Delivery:
    """Where a session's media goes: each complete frame, and the server's BYE (`ended` is
    set, then `on_end` is called, once); the stream's SRs, for lip sync (`on_sender_report`)."""

    ended: threading.Event
    on_frame: FrameCallback | None = None
    on_end: Callable[[], None] | None = None
    on_sender_report: ClockCallback | None = None


class ClientMedia:
    def __init__(
        self, server_ip: str, receiver: RtpReceiver, rtcp: ClientRtcp, delivery: Delivery, *,
        rtcp_destination: Address | None, interleaved: bool,
        channels: tuple[int, int] = INTERLEAVED_CHANNELS,
    ) -> None:  # fmt: skip
        """`rtcp`: the session's RTCP driver (unicast or a group's); `rtcp_destination`:
        where ours goes; `interleaved`: the media comes on the RTSP connection."""
        self.server_ip = server_ip
        self.receiver = receiver
        self.rtcp = rtcp
        self.delivery = delivery
        self.rtcp_destination = rtcp_destination
        self.multicast = rtcp.multicast
        self.interleaved = interleaved
        self.channels = channels  # its RTP and RTCP channels, when interleaved
        self.first_packet_at: float | None = None  # time.monotonic() of RTP arrivals
        self.last_packet_at: float | None = None
        # When the feeding thread last found nothing waiting: every packet that arrived before
        # then has been read (`rtsplab.client.end_of_stream` measures silence up to it).
        self.caught_up_at: float | None = None
        # Silences longer than OUTAGE_GAP that the stream came back from, and their length.
        self.outages = 0
        self.outage_seconds = 0.0
        self._after_play = False  # the next packet is the first after a PLAY: no outage before
        self.lock = threading.Lock()

    # -- the thread that feeds it --------------------------------------------------------

    def receive_rtp(self, datagram: bytes, source_ip: str, source_port: int | None) -> None:
        """One RTP datagram (`source_port` None: interleaved on the RTSP connection)."""
        now = time.monotonic()
        with self.lock:
            receiver = self.receiver
            accepted = receiver.counts.packets
            frames = receiver.receive_frames(datagram, source_ip, now, source_port)
            if receiver.counts.packets != accepted:  # the session's own stream
                self._heard(now, source_ip, source_port)
        self._deliver(frames)

    def receive_rtcp(self, datagram: bytes, source: Address | None) -> bool:
        """One RTCP datagram (`source` None: interleaved, so the server's). True when it was
        the server's BYE for the stream: the caller reads the RTP that came before it, then
        calls `end()`. When it announced the stream's new SSRC, the RTP side follows it and
        the frames completed by the packets it held under that SSRC are delivered."""
        with self.lock:
            frames: list[ReceivedFrame] = []
            for old, new in self.rtcp.receive(datagram, source):
                frames += self.receiver.follow(old, new)
            bye = self.rtcp.peer_left and not self.delivery.ended.is_set()
            ssrc = self.receiver.ssrc
        self._deliver(frames)
        on_report = self.delivery.on_sender_report
        from_server = source is None or source[0] == self.server_ip
        if on_report is not None and ssrc is not None and from_server:
            for ntp, rtp_timestamp in sender_clocks(datagram, ssrc):
                on_report(ntp, rtp_timestamp)
        return bye

    def receive_interleaved(self, channel: int, data: bytes) -> None:
        """A `$` frame read off the RTSP connection (RFC 2326 §10.12): RTP or RTCP; in
        order with the RTP, the server's BYE ends the video at once."""
        if channel == self.channels[0]:
            self.receive_rtp(data, self.server_ip, None)
        elif channel == self.channels[1] and self.receive_rtcp(data, None):
            self.end()

    def end(self) -> None:
        """The server's BYE ends the video, once."""
        with self.lock:
            if self.delivery.ended.is_set():
                return
            log.info("the server said BYE: end of the video")
            media_ssrc = self.rtcp.media_ssrc
            if media_ssrc is not None:
                self.receiver.source_left(media_ssrc)  # RFC 3550 §8.2: it may go
            self.delivery.ended.set()
        if self.delivery.on_end is not None:
            self.delivery.on_end()

    @staticmethod
    def awaits(media: ClientMedia | None, now: float) -> bool:
        """Whether `media` still waits at `now` for a packet it asked for again (NACKed,
        within its repair horizon): the stream is not over before it comes or is given up."""
        return media is not None and media.rtcp.awaiting_repairs(now)

    def quiet_since(self) -> tuple[float | None, float | None]:
        """The latest RTP packet's arrival, and when the feeding thread last found nothing
        waiting (`end_of_stream.Heard`'s two times)."""
        with self.lock:
            return self.last_packet_at, self.caught_up_at

    def caught_up(self, when: float) -> None:
        """Nothing was waiting to be read at `when` (taken before the look that found none:
        whatever arrived before it has been read)."""
        with self.lock:
            if self.caught_up_at is None or when > self.caught_up_at:
                self.caught_up_at = when

    def report_if_due(self) -> None:
        """A report, when due, and a NACK of what is missing, when feedback may go: they
        read the reception statistics and the sequence numbers, which the RTP path and PLAY
        change under this lock."""
        with self.lock:
            self.rtcp.report_if_due()
            self.rtcp.feedback_if_due()

    # -- the owner thread ----------------------------------------------------------------

    def resume(self) -> None:
        """Before a PLAY: a pause is not jitter."""
        with self.lock:
            self.receiver.reception.resume()
            self._after_play = True

    def played(self, first_seq: int | None) -> None:
        """After a PLAY: loss counts from `first_seq` (RTP-Info) when given, and an end of
        the stream is to come again (PLAY after the end starts the file again)."""
        with self.lock:
            if first_seq is not None:
                self.receiver.expect_first_seq(first_seq)
            self.delivery.ended.clear()
            self.rtcp.playing_again()

    def leave(self, reason: str) -> None:
        """The last report and a BYE (RFC 3550 §6.3.7), at TEARDOWN."""
        with self.lock:
            self.rtcp.leave(reason)

    def flush(self) -> None:
        """The stream is over: a frame still incomplete is dropped (and counted)."""
        with self.lock:
            self.receiver.flush()

    # -- any thread ----------------------------------------------------------------------

    def summary(self) -> dict[str, float | None]:
        """What was received: frames, dropped frames, packets, loss, bytes, seconds, and the
        RTCP figures: fraction lost, jitter, round-trip time, bit rate, the RTCP not taken
        (`foreign_rtcp`: from elsewhere than the server's RTCP port, or in a group in the
        stream's name from elsewhere), and the RTCP session's members (§6.3's count, this
        client included: 2 in unicast, a two-party session; a group's as the stream ended in
        multicast) and report interval (Td, §6.3.1)."""
        with self.lock:
            stats: dict[str, float | None] = dict(self.receiver.summary())
            first, last = self.first_packet_at, self.last_packet_at
            seconds = last - first if first is not None and last is not None else 0.0
            stats["seconds"] = round(seconds, 3)
            stats["foreign_rtcp"] = self.rtcp.foreign
            reception, rtt = self.receiver.reception, self.rtcp.rtt
            received = stats.get("bytes") or 0
            stats.update(
                fraction_lost=round(reception.loss_rate, 6),
                jitter_ms=round(reception.jitter_ms, 3),
                rtt_ms=None if rtt is None else round(rtt * 1000, 3),
                bitrate_kbps=round(received * 8 / seconds / 1000, 1) if seconds else 0.0,
                members=self.rtcp.members,
                rtcp_interval_s=round(self.rtcp.interval, 3),
                outages=self.outages,
                outage_seconds=round(self.outage_seconds, 3),
                **self.rtcp.repair_figures(),
            )
            return stats

    # -- inside --------------------------------------------------------------------------

    def _heard(self, now: float, source_ip: str, source_port: int | None) -> None:
        last, after_play, self._after_play = self.last_packet_at, self._after_play, False
        if last is not None and not after_play and now - last > OUTAGE_GAP:
            self.outages += 1
            self.outage_seconds += now - last
            log.warning("RTP again after %.1f s without: the stream goes on", now - last)
        self.last_packet_at = now
        if self.first_packet_at is None:
            self.first_packet_at = now
        ssrc = self.receiver.ssrc
        if ssrc is not None:
            self.rtcp.heard_rtp(ssrc, (source_ip, source_port or 0))

    def _deliver(self, frames: list[ReceivedFrame]) -> None:
        """Frames to `on_frame`, on the feeding thread, with no lock held."""
        on_frame = self.delivery.on_frame
        if on_frame is not None:
            for frame in frames:
                on_frame(frame.data, frame.timestamp)


def sender_clocks(datagram: bytes, ssrc: int) -> list[tuple[int, int]]:
    """The (NTP, RTP timestamp) pairs of the SRs `ssrc` sent in a compound (RFC 3550 §6.4.1);
    none from a datagram that is not RTCP (the RTCP engine counts it)."""
    try:
        packets = decode_compound(datagram, strict=False)
    except RtcpError:
        return []
    return [(p.ntp_timestamp, p.rtp_timestamp) for p in packets
            if isinstance(p, SenderReport) and p.ssrc == ssrc]  # fmt: skip


def no_media_summary() -> dict[str, float | None]:
    """The summary before any SETUP: nothing received."""
    return {"seconds": 0.0, "foreign_rtcp": 0, "members": None, "rtcp_interval_s": None,
            "outages": 0, "outage_seconds": 0.0}  # fmt: skip


def guarded(handle: Callable[..., object], *args: object) -> None:
    """One datagram's handling: whatever goes wrong with it (a callback's full disk...) is
    logged, and the receiving thread goes on with the next."""
    try:
        handle(*args)
    except Exception:
        log.exception("error handling a datagram; skipped")


class UdpListener:
    """The thread that receives a session's RTP and RTCP by UDP into its `ClientMedia`, and
    sends its RTCP reports when due. It owns the sockets: `stop()` closes them."""

    def __init__(self, sockets: MediaSockets, media: ClientMedia) -> None:
        self.sockets = sockets
        self.media = media
        self._stop = threading.Event()  # this listener's alone: the session's media ends
        self._thread = threading.Thread(target=self._run, name="rtp-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop receiving (within RTP_POLL) and close the sockets; the counts stay."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        self.sockets.close()

    def _run(self) -> None:
        """Never raises: a datagram's error is logged and skipped (`guarded`). RTCP is read
        before RTP in each wake-up: a compound announcing the stream's new SSRC (§8.2) is
        then followed before the packets under that SSRC are read, not after a batch of them
        (the packets still under the old one are the stream's either way)."""
        rtp, rtcp = self.sockets.rtp, self.sockets.rtcp
        with selectors.DefaultSelector() as selector:
            selector.register(rtp, selectors.EVENT_READ)
            if rtcp is not None:
                selector.register(rtcp, selectors.EVENT_READ)
            while not self._stop.is_set():
                guarded(self.media.report_if_due)
                looked = time.monotonic()
                try:
                    ready = {key.fileobj for key, _ in selector.select(RTP_POLL)}
                except (OSError, ValueError):
                    return  # a socket was closed under us
                if rtp not in ready:
                    self.media.caught_up(looked)
                if rtcp is not None and rtcp in ready and not self._read_rtcp(rtcp):
                    selector.unregister(rtcp)  # RTCP is lost to this session, not its RTP
                    rtcp = None
                if rtp in ready:
                    self._drain_rtp(RTP_BATCH)

    def _read_rtcp(self, rtcp: socket.socket) -> bool:
        """One RTCP datagram; False when the socket has failed (logged)."""
        try:
            datagram, source = rtcp.recvfrom(MAX_DATAGRAM)
        except BlockingIOError:
            return True  # a datagram seen, gone (a checksum error): nothing to read
        except OSError as exc:
            log.warning("the RTCP socket failed (%s): receiving RTP without RTCP", exc)
            return False
        try:
            bye = self.media.receive_rtcp(datagram, (source[0], source[1]))
        except Exception:
            log.exception("error handling an RTCP datagram; skipped")
            return True
        if bye:
            self._drain_rtp(MAX_DRAIN)  # the last frame's packets, sent before the BYE
            guarded(self.media.end)
        return True

    def _drain_rtp(self, limit: int) -> None:
        """Handle up to `limit` RTP datagrams that are waiting, without blocking."""
        rtp = self.sockets.rtp
        for _ in range(limit):
            looked = time.monotonic()
            try:
                datagram, source = rtp.recvfrom(MAX_DATAGRAM)
            except BlockingIOError:
                self.media.caught_up(looked)
                return
            except OSError:
                return
            guarded(self.media.receive_rtp, datagram, source[0], source[1])
