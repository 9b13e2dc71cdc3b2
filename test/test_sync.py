"""Approximate-time pairing: hand-made stamp sequences, counters, stalls, and a brute-force oracle."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from rosbags.typesys import Stores, get_typestore

from ris_fusion_ros.core.errors import ConfigError, DataError
from ris_fusion_ros.core.io.sync import (
    RGB,
    THERMAL,
    ApproximateTimeSync,
    SyncConfig,
    header_stamp_ns,
    stamp_to_ns,
)

MS = 1_000_000
SEC = 1_000_000_000
T0 = 1_700_000_000 * SEC  # a realistic epoch, so nothing relies on small numbers


def messages(stream: str, stamps) -> list[tuple[str, int, str]]:
    """(stream, stamp, payload) with a payload that names the message, e.g. 'thermal@3'."""
    return [(stream, int(s), f"{stream}@{i}") for i, s in enumerate(stamps)]


def by_arrival(*streams, lags=None) -> list[tuple[str, int, str]]:
    """Merge streams in the order they would arrive live: stamp + a per-stream transport lag."""
    lags = lags or {}
    events = [m for stream in streams for m in stream]
    return sorted(events, key=lambda m: (m[1] + lags.get(m[0], 0), m[0]))


def ids(pairs) -> list[tuple[str, str]]:
    return [(p.thermal, p.rgb) for p in pairs]


def frames(count: int, period_ns: int, jitter_ns: int = 0, seed: int = 0, start: int = T0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return start + np.arange(count) * period_ns + rng.integers(-jitter_ns, jitter_ns, count, endpoint=True)


def check_accounting(sync: ApproximateTimeSync) -> None:
    stats = sync.stats
    for stream in (stats.thermal, stats.rgb):
        assert stream.received == stream.paired + stream.dropped + stream.queued
        assert stream.paired == stats.pairs


def oracle(thermal_keys, rgb_keys, slop_ns) -> list[tuple[int, int]]:
    """The documented rule stated with full knowledge of both sequences (indices of the pairs).

    In time order, a message pairs with its nearest remaining partner if it is that partner's
    nearest remaining message too (ties to the earlier one) and they are within slop.
    """
    remaining = {THERMAL: dict(enumerate(thermal_keys)), RGB: dict(enumerate(rgb_keys))}
    events = sorted([(k, 0, THERMAL, i) for i, k in enumerate(thermal_keys)]
                    + [(k, 1, RGB, i) for i, k in enumerate(rgb_keys)])
    pairs = []
    for key, _, stream, index in events:
        if index not in remaining[stream]:
            continue
        other = RGB if stream == THERMAL else THERMAL
        del remaining[stream][index]
        if not remaining[other]:
            continue
        partner = min(remaining[other], key=lambda j: (abs(remaining[other][j] - key), j))
        partner_key = remaining[other][partner]
        own = {index: key, **remaining[stream]}
        best_for_partner = min(own, key=lambda j: (abs(own[j] - partner_key), j))
        if abs(partner_key - key) <= slop_ns and best_for_partner == index:
            del remaining[other][partner]
            pairs.append((index, partner) if stream == THERMAL else (partner, index))
    return sorted(pairs)


def test_jittered_streams_at_the_same_rate_pair_frame_by_frame():
    thermal = messages(THERMAL, frames(30, 33 * MS, 5 * MS, seed=1))
    rgb = messages(RGB, frames(30, 33 * MS, 5 * MS, seed=2))
    sync = ApproximateTimeSync(SyncConfig(slop_seconds=0.012))
    live = []
    for stream, stamp, payload in by_arrival(thermal, rgb, lags={THERMAL: 20 * MS}):
        live += sync.push(stream, stamp, payload)
    assert ids(live) == [(f"thermal@{i}", f"rgb@{i}") for i in range(29)]  # the last waits for a follower
    assert sync.stats.thermal.queued + sync.stats.rgb.queued == 2
    assert ids(sync.flush()) == [("thermal@29", "rgb@29")]
    assert all(abs(p.delta_ns) <= 12 * MS for p in live)
    check_accounting(sync)


def test_a_pair_is_emitted_only_when_the_next_message_of_the_earlier_stream_shows_it_is_final():
    sync = ApproximateTimeSync(SyncConfig(slop_seconds=0.010))
    assert sync.push_thermal(T0, "t0") == []
    assert sync.push_rgb(T0 + 9 * MS, "r0") == []  # a thermal at T0+10ms would be closer to r0
    assert sync.push_thermal(T0 + 10 * MS, "t1") == []  # t0 loses r0 to t1, but an rgb at T0+10ms would
    assert sync.stats.thermal.unmatched == 1  # beat r0 for t1, so (t1, r0) waits for the next rgb
    assert ids(sync.push_rgb(T0 + 42 * MS, "r1")) == [("t1", "r0")]
    out = ApproximateTimeSync(SyncConfig(slop_seconds=0.010))
    out.push_thermal(T0, "t0")
    out.push_rgb(T0 + 4 * MS, "r0")
    assert ids(out.push_thermal(T0 + 33 * MS, "t1")) == [("t0", "r0")]
    exact = ApproximateTimeSync()
    exact.push_thermal(T0, "t0")
    assert ids(exact.push_rgb(T0, "r0")) == [("t0", "r0")]  # equal stamps cannot be beaten: no wait


def test_equal_distances_go_to_the_earlier_message():
    sync = ApproximateTimeSync(SyncConfig(slop_seconds=0.010))
    pairs = sync.feed([(THERMAL, T0, "t0"), (RGB, T0 + 5 * MS, "r0"), (THERMAL, T0 + 10 * MS, "t1")])
    assert ids(pairs) == [("t0", "r0")]
    assert sync.stats.thermal.unmatched == 1  # t1 left without a partner at flush


def test_a_slow_thermal_camera_gets_the_nearest_rgb_frame():
    thermal_stamps = frames(10, 111 * MS, 3 * MS, seed=3)  # 9 Hz
    rgb_stamps = frames(34, 33 * MS, 3 * MS, seed=4)  # 30 Hz
    sync = ApproximateTimeSync(SyncConfig(slop_seconds=0.020, queue_size=10))
    pairs = sync.feed(by_arrival(messages(THERMAL, thermal_stamps), messages(RGB, rgb_stamps)))
    assert len(pairs) == 10
    for i, pair in enumerate(pairs):
        nearest = int(np.argmin(np.abs(rgb_stamps - thermal_stamps[i])))
        assert (pair.thermal, pair.rgb) == (f"thermal@{i}", f"rgb@{nearest}")
    assert sync.stats.rgb.unmatched == 24 and sync.stats.rgb.queue_overflow == 0
    check_accounting(sync)


def test_dropped_frames_leave_their_partners_unmatched():
    stamps = frames(20, 50 * MS, 2 * MS, seed=5)
    keep = [i for i in range(20) if i not in (3, 4, 11)]
    sync = ApproximateTimeSync(SyncConfig(slop_seconds=0.010))
    pairs = sync.feed(by_arrival(
        [(THERMAL, int(stamps[i]) + 1 * MS, f"thermal@{i}") for i in keep], messages(RGB, stamps)))
    assert ids(pairs) == [(f"thermal@{i}", f"rgb@{i}") for i in keep]
    assert sync.stats.rgb.unmatched == 3 and sync.stats.thermal.unmatched == 0


def test_offset_compensates_a_thermal_clock_that_runs_behind():
    rgb_stamps = frames(15, 40 * MS, 2 * MS, seed=6)
    thermal_stamps = rgb_stamps - 1500 * MS + 3 * MS  # thermal clock 1.5 s behind, 3 ms of true skew
    events = by_arrival(messages(THERMAL, thermal_stamps), messages(RGB, rgb_stamps), lags={THERMAL: 1500 * MS})
    without = ApproximateTimeSync(SyncConfig(slop_seconds=0.010, queue_size=100))
    assert without.feed(events) == [] and without.stats.thermal.unmatched == 15
    sync = ApproximateTimeSync(SyncConfig(slop_seconds=0.010, offset_ns=1500 * MS))
    pairs = sync.feed(events)
    assert ids(pairs) == [(f"thermal@{i}", f"rgb@{i}") for i in range(15)]
    assert all(p.delta_ns == -3 * MS for p in pairs)
    assert [p.thermal_stamp_ns for p in pairs] == thermal_stamps.tolist()  # reported as received


def test_backwards_and_duplicate_stamps_are_rejected_and_counted():
    sync = ApproximateTimeSync(SyncConfig(slop_seconds=0.005))
    sync.push_thermal(T0, "t0")
    assert sync.push_thermal(T0, "t0-again") == []
    assert sync.push_thermal(T0 - 1 * MS, "t-old") == []
    sync.push_rgb(T0 + 1 * MS, "r0")
    sync.push_rgb(T0 - 5 * MS, "r-old")
    pairs = sync.push_thermal(T0 + 33 * MS, "t1") + sync.flush()
    assert ids(pairs) == [("t0", "r0")]
    stats = sync.stats
    assert (stats.thermal.duplicate, stats.thermal.backwards, stats.rgb.backwards) == (1, 1, 1)
    check_accounting(sync)


def test_a_large_backwards_jump_resets_when_configured():
    first = frames(5, 50 * MS, start=T0 + 60 * SEC)
    again = frames(5, 50 * MS, start=T0)  # a looped bag starts over a minute earlier
    events = by_arrival(messages(THERMAL, first), messages(RGB, first + MS)) + by_arrival(
        messages(THERMAL, again), messages(RGB, again + MS))
    rejecting = ApproximateTimeSync(SyncConfig(slop_seconds=0.005))
    assert len(rejecting.feed(events)) == 5 and rejecting.stats.thermal.backwards == 5
    resetting = ApproximateTimeSync(SyncConfig(slop_seconds=0.005, backwards_reset_seconds=1.0))
    before_jump = resetting.feed(events[:10], flush=False)
    assert len(before_jump) == 4  # the last pair waits for a thermal follower...
    assert ids(resetting.push(*events[10])) == [("thermal@4", "rgb@4")]  # ...and the jump ends that wait
    pairs = before_jump + resetting.feed(events[11:]) + resetting.feed(events[11:])  # a second, rejected copy
    assert len(pairs) == 9 and resetting.stats.resets == 1 and resetting.stats.pairs == 10
    stats = resetting.stats  # the copy is only milliseconds back: rejected, not a new timeline
    assert (stats.thermal.backwards, stats.thermal.duplicate, stats.rgb.backwards, stats.rgb.duplicate) == (3, 1, 4, 1)
    check_accounting(resetting)


def test_stalls_are_detected_on_the_other_streams_time_and_clear_on_resume():
    sync = ApproximateTimeSync(SyncConfig(slop_seconds=0.010, stall_timeout_seconds=0.5, queue_size=50))
    for i in range(10):
        sync.push_thermal(T0 + i * 40 * MS, f"t{i}")
        sync.push_rgb(T0 + i * 40 * MS + MS, f"r{i}")
    assert sync.stalled == ()
    for i in range(10, 30):  # thermal silent for 800 ms of rgb time
        sync.push_rgb(T0 + i * 40 * MS + MS, f"r{i}")
        if i * 40 - 9 * 40 <= 500:
            assert not sync.is_stalled(THERMAL), i
    assert sync.stalled == (THERMAL,) and sync.stats.thermal.stall_events == 1 and sync.stats.thermal.stalled
    pairs = sync.push_thermal(T0 + 30 * 40 * MS, "t30")
    assert sync.stalled == () and not sync.is_stalled(RGB)
    assert sync.stats.thermal.stall_events == 1
    assert ids(pairs) == [("t9", "r9")]  # the pair waiting across the stall is still emitted
    assert sync.stats.rgb.unmatched == 20  # rgb frames of the gap had no thermal partner
    check_accounting(sync)


def test_a_stream_that_never_starts_is_stalled():
    sync = ApproximateTimeSync(SyncConfig(stall_timeout_seconds=1.0))
    sync.push_rgb(T0, "r0")
    sync.push_rgb(T0 + 900 * MS, "r1")
    assert sync.stalled == ()
    sync.push_rgb(T0 + 1100 * MS, "r2")
    assert sync.stalled == (THERMAL,)
    assert ApproximateTimeSync(SyncConfig(stall_timeout_seconds=None)).stalled == ()


def test_queue_overflow_drops_the_oldest_message_and_counts_it():
    sync = ApproximateTimeSync(SyncConfig(queue_size=3, slop_seconds=0.010))
    for i in range(8):
        sync.push_rgb(T0 + i * 33 * MS, f"r{i}")
    assert sync.stats.rgb.queue_overflow == 5 and sync.stats.rgb.queued == 3
    pairs = sync.push_thermal(T0 + 5 * 33 * MS + MS, "t0") + sync.flush()
    assert ids(pairs) == [("t0", "r5")]
    check_accounting(sync)


def test_queue_size_one_still_pairs_synchronised_cameras():
    sync = ApproximateTimeSync(SyncConfig(queue_size=1, slop_seconds=0.001))
    stamps = frames(20, 33 * MS)
    pairs = sync.feed(by_arrival(messages(THERMAL, stamps), messages(RGB, stamps)))
    assert len(pairs) == 20 and sync.stats.thermal.dropped == sync.stats.rgb.dropped == 0


def random_streams(seed: int, count: int = 150):
    rng = np.random.default_rng(seed)
    thermal = frames(count, 33 * MS, 8 * MS, seed=seed)
    rgb = frames(count * 2, 17 * MS, 4 * MS, seed=seed + 1000)
    thermal = thermal[rng.random(count) > 0.1]  # 10 % of each stream lost
    rgb = rgb[rng.random(count * 2) > 0.1]
    thermal, rgb = np.unique(thermal), np.unique(rgb)  # stamps increase on each stream
    return messages(THERMAL, thermal), messages(RGB, rgb), rng


def test_live_callback_and_offline_feed_give_identical_results():
    thermal, rgb, _ = random_streams(7)
    events = by_arrival(thermal, rgb, lags={THERMAL: 45 * MS, RGB: 5 * MS})
    events.insert(40, (THERMAL, events[30][1], "late"))  # some rejects too
    config = SyncConfig(slop_seconds=0.012, queue_size=4, offset_ns=-2 * MS, stall_timeout_seconds=0.05)
    seen = []
    live = ApproximateTimeSync(config, on_pair=seen.append)
    returned = []
    for stream, stamp, payload in events:
        returned += live.push(stream, stamp, payload)
    returned += live.flush()
    offline = ApproximateTimeSync(config)
    assert seen == returned == offline.feed(events)
    assert live.stats == offline.stats and live.stats.pairs > 50


def test_without_overflow_the_pairs_do_not_depend_on_how_the_streams_interleave():
    thermal, rgb, _ = random_streams(8)
    config = SyncConfig(slop_seconds=0.012, queue_size=1000)
    results = [
        ApproximateTimeSync(config).feed(by_arrival(thermal, rgb, lags=lags))
        for lags in ({}, {THERMAL: 300 * MS}, {RGB: 300 * MS}, {THERMAL: 10 * SEC})
    ]
    assert all(r == results[0] for r in results[1:]) and len(results[0]) > 50


@pytest.mark.parametrize("seed", range(12))
def test_random_jitter_property_pairs_within_slop_used_once_in_order_and_as_the_oracle_says(seed):
    thermal, rgb, rng = random_streams(seed)
    slop = int(rng.integers(2, 20)) * MS
    offset = int(rng.integers(-5, 6)) * MS
    queue = int(rng.integers(2, 30))  # small ones overflow when one stream lags: covered as well
    sync = ApproximateTimeSync(SyncConfig(slop_seconds=slop / SEC, queue_size=queue, offset_ns=offset))
    events = by_arrival(thermal, rgb, lags={THERMAL: int(rng.integers(0, 80)) * MS})
    pairs = sync.feed(events)
    assert all(abs(p.rgb_stamp_ns - (p.thermal_stamp_ns + offset)) <= slop for p in pairs)
    assert all(p.delta_ns == p.rgb_stamp_ns - p.thermal_stamp_ns - offset for p in pairs)
    used_t, used_r = [p.thermal for p in pairs], [p.rgb for p in pairs]
    assert len(set(used_t)) == len(used_t) and len(set(used_r)) == len(used_r)
    assert all(a.thermal_stamp_ns < b.thermal_stamp_ns and a.rgb_stamp_ns < b.rgb_stamp_ns
               for a, b in itertools.pairwise(pairs))
    check_accounting(sync)
    if sync.stats.thermal.queue_overflow == sync.stats.rgb.queue_overflow == 0:
        expected = oracle([s + offset for _, s, _ in thermal], [s for _, s, _ in rgb], slop)
        assert [(int(p.thermal.split("@")[1]), int(p.rgb.split("@")[1])) for p in pairs] == expected


def test_the_oracle_and_the_synchroniser_agree_on_large_queues():
    for seed in range(20, 26):
        thermal, rgb, _ = random_streams(seed, count=60)
        pairs = ApproximateTimeSync(SyncConfig(slop_seconds=0.015, queue_size=10_000)).feed(by_arrival(thermal, rgb))
        expected = oracle([s for _, s, _ in thermal], [s for _, s, _ in rgb], 15 * MS)
        assert [(int(p.thermal.split("@")[1]), int(p.rgb.split("@")[1])) for p in pairs] == expected


def test_stats_are_a_snapshot_and_export_as_a_dict():
    sync = ApproximateTimeSync()
    snapshot = sync.stats
    sync.push_thermal(T0, "t0")
    assert snapshot.thermal.received == 0 and sync.stats.thermal.received == 1
    exported = sync.stats.as_dict()
    assert exported["thermal"]["queued"] == 1 and exported["pairs"] == 0


def test_reset_counts_queued_messages_as_unmatched_and_accepts_older_stamps():
    sync = ApproximateTimeSync()
    sync.push_thermal(T0, "t0")
    sync.reset()
    assert sync.stats.thermal.unmatched == 1 and sync.stats.resets == 1
    sync.push_thermal(T0 - SEC, "t-old")
    assert sync.stats.thermal.backwards == 0 and sync.stats.thermal.queued == 1


@pytest.mark.parametrize(
    ("fields", "pattern"),
    [
        ({"queue_size": 0}, r"queue_size must be an integer >= 1, got 0"),
        ({"queue_size": 2.5}, r"queue_size must be an integer"),
        ({"slop_seconds": -0.1}, r"slop_seconds must be >= 0"),
        ({"slop_seconds": float("inf")}, r"slop_seconds must be a finite number"),
        ({"offset_ns": 0.5}, r"offset_ns must be an integer number of nanoseconds"),
        ({"stall_timeout_seconds": 0}, r"stall_timeout_seconds must be > 0"),
        ({"backwards_reset_seconds": "1"}, r"backwards_reset_seconds must be a finite number"),
    ],
)
def test_config_validation_names_the_field(fields, pattern):
    with pytest.raises(ConfigError, match=pattern):
        ApproximateTimeSync(SyncConfig(**fields))


def test_bad_pushes_raise_clear_errors():
    sync = ApproximateTimeSync()
    with pytest.raises(DataError, match=r"unknown stream 'depth'; expected one of \['thermal', 'rgb'\]"):
        sync.push("depth", T0, None)
    with pytest.raises(DataError, match=r"thermal stamp must be an integer \(nanoseconds\), got 1.5"):
        sync.push_thermal(1.5, None)
    with pytest.raises(DataError, match=r"rgb stamp must be an integer"):
        sync.push_rgb(True, None)
    assert sync.stats.thermal.received == 0
    sync.push_rgb(np.int64(T0), "numpy stamps are fine")


def test_header_stamps_convert_to_nanoseconds():
    store = get_typestore(Stores.ROS2_JAZZY)
    header = store.types["std_msgs/msg/Header"](stamp=store.types["builtin_interfaces/msg/Time"](
        sec=1_700_000_000, nanosec=123_456_789), frame_id="thermal")
    image = store.types["sensor_msgs/msg/Image"](header=header, height=0, width=0, encoding="mono8",
                                                  is_bigendian=0, step=0, data=np.zeros(0, np.uint8))
    assert header_stamp_ns(image) == 1_700_000_000_123_456_789
    assert stamp_to_ns(2, 5) == 2 * SEC + 5
    with pytest.raises(DataError, match=r"nanosec must be within 0-999999999"):
        stamp_to_ns(1, SEC)
    with pytest.raises(DataError, match=r"has no header.stamp"):
        header_stamp_ns(object())
