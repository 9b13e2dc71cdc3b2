"""Approximate-time pairing of a thermal and an RGB stream by header stamps (integer nanoseconds).

message_filters cannot be installed from PyPI, so this is a small plain class with the settings
users know from ``ApproximateTimeSynchronizer`` (a queue per stream, ``slop``), usable live (push
each message as it arrives, get pairs back as the return value and/or a callback) and offline
(feed a bag's messages in recording order): both are the same :meth:`ApproximateTimeSync.push`.

Matching rule. Thermal stamps are first shifted by ``offset_ns`` (a camera with its own clock);
"stamp" below means the shifted one. Stamps must increase on each stream. Repeatedly take the
oldest queued message ``m`` of either stream and the oldest queued message ``n`` of the other one
(stamps only increase, so ``n`` is the nearest partner ``m`` can still get):

1. if ``|n - m| > slop``, ``m`` is dropped as *unmatched*;
2. else, if the message after ``m`` on ``m``'s own stream is strictly closer to ``n``, ``m`` is
   dropped as *unmatched* (that follower beats ``m`` for ``n`` and for every later partner);
3. else ``(m, n)`` is emitted (an equal distance goes to the earlier message);
4. when ``m`` has no follower yet and ``n != m``, nothing is decided: the rule waits for the
   follower (or for :meth:`~ApproximateTimeSync.flush`, which declares the end of the input).

So every pair is a pair of mutual nearest neighbours among the messages not yet used, each
message is used at most once, and pairs come out in time order (both stamps increase from one
pair to the next). A decision is only taken when no later message can change it, so without
queue overflow the pairs depend only on each stream's own sequence, not on how the two streams
interleave: live and offline runs give the same pairs. The price is latency: a pair waits for
the next message of its earlier stream (one frame period); message_filters' ApproximateTime
policy also waits for later messages before it publishes a set.

Dropped messages are counted per stream and reason: ``unmatched`` (rules 1-2, leftovers at
``flush``/``reset``), ``queue_overflow`` (a queue longer than ``queue_size``: its oldest message
goes, so the queue must cover the slower stream's period and the lag between the streams),
``backwards`` (stamp older than the stream's last one: rejected) and ``duplicate`` (the same
stamp again). With ``backwards_reset_seconds`` set, a jump back by more than that (a looped bag,
a simulator restart) is not rejected: it ends the old timeline as
:meth:`~ApproximateTimeSync.flush` does, resets, and the message starts the new one.

A stream is *stalled* when the other stream's stamps have run ``stall_timeout_seconds`` past its
last message. Stall detection only reports (``stats``, ``stalled``); it never changes pairing.
Stamps cannot show that *both* streams stopped: that needs a wall-clock watchdog in the node.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import numpy as np

from ..errors import ConfigError, DataError

THERMAL = "thermal"
RGB = "rgb"
STREAMS = (THERMAL, RGB)
NS_PER_SECOND = 1_000_000_000


def stamp_to_ns(sec: int, nanosec: int) -> int:
    """``builtin_interfaces/Time`` (sec, nanosec) as integer nanoseconds."""
    sec, nanosec = _int(sec, "stamp sec"), _int(nanosec, "stamp nanosec")
    if not 0 <= nanosec < NS_PER_SECOND:
        raise DataError(f"stamp nanosec must be within 0-999999999, got {nanosec}")
    return sec * NS_PER_SECOND + nanosec


def header_stamp_ns(msg: Any) -> int:
    """``msg.header.stamp`` of any message object (rclpy or rosbags) as integer nanoseconds."""
    try:
        stamp = msg.header.stamp
        sec, nanosec = stamp.sec, stamp.nanosec
    except AttributeError:
        raise DataError(f"{type(msg).__name__} object has no header.stamp.sec/nanosec") from None
    return stamp_to_ns(sec, nanosec)


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise DataError(f"{name} must be an integer (nanoseconds), got {value!r}")
    return int(value)


def _seconds_to_ns(value: float | None, name: str, *, allow_zero: bool) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number of seconds, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{name} must be {'>= 0' if allow_zero else '> 0'} seconds, got {value}")
    return round(float(value) * NS_PER_SECOND)


@dataclass
class SyncConfig:
    """Settings of :class:`ApproximateTimeSync`."""

    # per stream; must hold what the faster stream sends in one period of the slower one, plus what
    # arrives while the partner is still in transit (a thermal pipeline 70 ms late at 60 Hz RGB: +5)
    queue_size: int = 10
    slop_seconds: float = 0.05  # largest accepted stamp difference of a pair
    offset_ns: int = 0  # added to every thermal stamp before matching
    stall_timeout_seconds: float | None = 2.0  # None: no stall detection
    backwards_reset_seconds: float | None = None  # None: backwards stamps are only rejected

    def validate(self) -> SyncConfig:
        """Raise ConfigError naming the bad field; return self so calls can chain."""
        if isinstance(self.queue_size, bool) or not isinstance(self.queue_size, int) or self.queue_size < 1:
            raise ConfigError(f"queue_size must be an integer >= 1, got {self.queue_size!r}")
        if isinstance(self.offset_ns, bool) or not isinstance(self.offset_ns, (int, np.integer)):
            raise ConfigError(f"offset_ns must be an integer number of nanoseconds, got {self.offset_ns!r}")
        _seconds_to_ns(self.slop_seconds, "slop_seconds", allow_zero=True)
        _seconds_to_ns(self.stall_timeout_seconds, "stall_timeout_seconds", allow_zero=False)
        _seconds_to_ns(self.backwards_reset_seconds, "backwards_reset_seconds", allow_zero=False)
        return self


@dataclass(frozen=True)
class SyncedPair:
    """One emitted pair; stamps are as received (thermal without the offset)."""

    thermal: Any
    rgb: Any
    thermal_stamp_ns: int
    rgb_stamp_ns: int
    delta_ns: int  # rgb stamp - (thermal stamp + offset_ns); |delta_ns| <= slop


@dataclass
class StreamStats:
    """Counters of one stream; ``received`` = paired + every drop + still queued."""

    received: int = 0
    paired: int = 0
    unmatched: int = 0
    queue_overflow: int = 0
    backwards: int = 0
    duplicate: int = 0
    stall_events: int = 0  # times the stream became stalled
    stalled: bool = False
    queued: int = 0

    @property
    def dropped(self) -> int:
        return self.unmatched + self.queue_overflow + self.backwards + self.duplicate


@dataclass
class SyncStats:
    """A snapshot of the synchroniser's counters, e.g. for ``/diagnostics``."""

    pairs: int = 0
    resets: int = 0
    thermal: StreamStats = field(default_factory=StreamStats)
    rgb: StreamStats = field(default_factory=StreamStats)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Item(NamedTuple):
    key: int  # stamp used for matching (thermal: + offset)
    stamp: int  # stamp as received
    payload: Any


class ApproximateTimeSync:
    """Pairs thermal and RGB messages by stamp; see the module docstring for the exact rule.

    Thread-safe: pushes are serialised by a lock, and ``on_pair`` runs under it, so callbacks see
    pairs in time order (keep the callback short, or hand the pair to a worker).
    """

    def __init__(self, config: SyncConfig | None = None, on_pair: Callable[[SyncedPair], None] | None = None):
        self.config = (config or SyncConfig()).validate()
        self.on_pair = on_pair
        self._slop = _seconds_to_ns(self.config.slop_seconds, "slop_seconds", allow_zero=True) or 0
        self._stall = _seconds_to_ns(self.config.stall_timeout_seconds, "stall_timeout_seconds", allow_zero=False)
        self._jump = _seconds_to_ns(self.config.backwards_reset_seconds, "backwards_reset_seconds", allow_zero=False)
        self._offset = int(self.config.offset_ns)
        self._lock = threading.RLock()
        self._queues: dict[str, deque[_Item]] = {name: deque() for name in STREAMS}
        self._stats = SyncStats()
        self._clear_clocks()

    # ----------------------------------------------------------------- public API
    def push(self, stream: str, stamp_ns: int, payload: Any) -> list[SyncedPair]:
        """Add one message of ``stream`` ("thermal" or "rgb"); return the pairs it completed."""
        if stream not in self._queues:
            raise DataError(f"unknown stream {stream!r}; expected one of {list(STREAMS)}")
        stamp = _int(stamp_ns, f"{stream} stamp")
        with self._lock:
            stats = self._stream_stats(stream)
            stats.received += 1
            last = self._last_stamp[stream]
            pairs: list[SyncedPair] = []
            if last is not None and stamp <= last:
                if self._jump is not None and last - stamp > self._jump:
                    pairs = self._match(final=True)  # the old timeline has ended: decide what waits
                    self._reset_locked()
                elif stamp == last:
                    stats.duplicate += 1
                    return []
                else:
                    stats.backwards += 1
                    return []
            self._last_stamp[stream] = stamp
            key = stamp + self._offset if stream == THERMAL else stamp
            self._last_key[stream] = key
            if self._first_key[stream] is None:
                self._first_key[stream] = key
            queue = self._queues[stream]
            queue.append(_Item(key, stamp, payload))
            pairs += self._match(final=False)
            if len(queue) > self.config.queue_size:
                queue.popleft()
                stats.queue_overflow += 1
                pairs += self._match(final=False)
            self._update_stalls()
            self._deliver(pairs)
            return pairs

    def push_thermal(self, stamp_ns: int, payload: Any) -> list[SyncedPair]:
        return self.push(THERMAL, stamp_ns, payload)

    def push_rgb(self, stamp_ns: int, payload: Any) -> list[SyncedPair]:
        return self.push(RGB, stamp_ns, payload)

    def flush(self) -> list[SyncedPair]:
        """Declare the end of the input: decide every waiting message, drop the rest as unmatched.

        Later pushes still have to be newer than the last stamps seen (call :meth:`reset` to start over).
        """
        with self._lock:
            pairs = self._match(final=True)
            self._deliver(pairs)
            return pairs

    def feed(self, messages: Iterable[tuple[str, int, Any]], *, flush: bool = True) -> list[SyncedPair]:
        """Offline use: push ``(stream, stamp_ns, payload)`` in recording order, then flush."""
        pairs: list[SyncedPair] = []
        for stream, stamp_ns, payload in messages:
            pairs += self.push(stream, stamp_ns, payload)
        if flush:
            pairs += self.flush()
        return pairs

    def reset(self) -> None:
        """Start over (after a seek or a clock jump): queued messages count as unmatched; counters stay."""
        with self._lock:
            self._reset_locked()

    @property
    def stats(self) -> SyncStats:
        """A copy of the counters, with the current queue lengths and stall flags."""
        with self._lock:
            snapshot = SyncStats(
                pairs=self._stats.pairs,
                resets=self._stats.resets,
                thermal=StreamStats(**asdict(self._stats.thermal)),
                rgb=StreamStats(**asdict(self._stats.rgb)),
            )
            for name in STREAMS:
                stream_stats = getattr(snapshot, name)
                stream_stats.queued = len(self._queues[name])
            return snapshot

    def is_stalled(self, stream: str) -> bool:
        if stream not in self._queues:
            raise DataError(f"unknown stream {stream!r}; expected one of {list(STREAMS)}")
        with self._lock:
            return self._stream_stats(stream).stalled

    @property
    def stalled(self) -> tuple[str, ...]:
        """Names of the streams that are stalled now (empty when both flow)."""
        with self._lock:
            return tuple(name for name in STREAMS if self._stream_stats(name).stalled)

    # ----------------------------------------------------------------- internals
    def _stream_stats(self, stream: str) -> StreamStats:
        return self._stats.thermal if stream == THERMAL else self._stats.rgb

    def _clear_clocks(self) -> None:
        self._last_stamp: dict[str, int | None] = dict.fromkeys(STREAMS)
        self._last_key: dict[str, int | None] = dict.fromkeys(STREAMS)
        self._first_key: dict[str, int | None] = dict.fromkeys(STREAMS)
        for name in STREAMS:
            self._stream_stats(name).stalled = False

    def _reset_locked(self) -> None:
        for name, queue in self._queues.items():
            self._stream_stats(name).unmatched += len(queue)
            queue.clear()
        self._clear_clocks()
        self._stats.resets += 1

    def _match(self, *, final: bool) -> list[SyncedPair]:
        """Apply the matching rule until it has to wait; ``final`` means no message will follow."""
        pairs: list[SyncedPair] = []
        thermal_q, rgb_q = self._queues[THERMAL], self._queues[RGB]
        while thermal_q and rgb_q:
            if thermal_q[0].key <= rgb_q[0].key:
                own, other, own_name = thermal_q, rgb_q, THERMAL
            else:
                own, other, own_name = rgb_q, thermal_q, RGB
            m, n = own[0], other[0]
            distance = n.key - m.key  # >= 0: m is the oldest head
            if distance > self._slop or (len(own) > 1 and abs(own[1].key - n.key) < distance):
                own.popleft()
                self._stream_stats(own_name).unmatched += 1
                continue
            if len(own) == 1 and distance != 0 and not final:
                break  # m's follower might still be closer to n
            own.popleft()
            other.popleft()
            thermal, rgb = (m, n) if own_name == THERMAL else (n, m)
            pairs.append(SyncedPair(thermal.payload, rgb.payload, thermal.stamp, rgb.stamp, rgb.key - thermal.key))
            self._stats.pairs += 1
            self._stats.thermal.paired += 1
            self._stats.rgb.paired += 1
        if final:
            for name in STREAMS:
                self._stream_stats(name).unmatched += len(self._queues[name])
                self._queues[name].clear()
        return pairs

    def _update_stalls(self) -> None:
        if self._stall is None:
            return
        for name, other in ((THERMAL, RGB), (RGB, THERMAL)):
            other_key = self._last_key[other]
            own_key = self._last_key[name]
            reference = own_key if own_key is not None else self._first_key[other]
            stalled = other_key is not None and reference is not None and other_key - reference > self._stall
            stats = self._stream_stats(name)
            if stalled and not stats.stalled:
                stats.stall_events += 1
            stats.stalled = stalled

    def _deliver(self, pairs: list[SyncedPair]) -> None:
        if self.on_pair is not None:
            for pair in pairs:
                self.on_pair(pair)
