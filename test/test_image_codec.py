"""Image message fields <-> numpy, checked against rosbags-image as an independent decoder.

rosbags-image ignores ``step`` (it reads the first H*W pixels), so padded messages are compared
with the oracle's decoding of the same pixels sent without padding.
"""

from __future__ import annotations

import subprocess
import sys
from array import array as PyArray
from types import SimpleNamespace

import numpy as np
import pytest
from rosbags.image import message_to_cvimage
from rosbags.typesys import Stores, get_typestore

from ris_fusion_ros.core.errors import DataError
from ris_fusion_ros.core.io.image_codec import (
    SUPPORTED_ENCODINGS,
    ImageFormatError,
    array_to_image_fields,
    encoding_info,
    image_to_array,
    message_to_array,
    to_rgb8,
)

from conftest import REPO, require_ros_module

TYPESTORE = get_typestore(Stores.ROS2_JAZZY)
RosImage = TYPESTORE.types["sensor_msgs/msg/Image"]
Header = TYPESTORE.types["std_msgs/msg/Header"]
Time = TYPESTORE.types["builtin_interfaces/msg/Time"]

SHAPES = {1: (5, 7), 3: (5, 7, 3), 4: (5, 7, 4)}


def random_image(encoding: str, seed: int = 0) -> np.ndarray:
    info = encoding_info(encoding)
    rng = np.random.default_rng(seed)
    shape = SHAPES[info.channels]
    if info.dtype == np.float32:
        return rng.normal(300.0, 50.0, shape).astype(np.float32)
    return rng.integers(0, np.iinfo(info.dtype).max, shape, endpoint=True).astype(info.dtype)


def raw_fields(array: np.ndarray, encoding: str, *, big: bool, pad: int) -> dict:
    """Message fields written by hand (not by the code under test), padding bytes set to 0xAB."""
    height, width = array.shape[:2]
    order = ">" if big else "<"
    rows = array.astype(array.dtype.newbyteorder(order)).reshape(height, -1).view(np.uint8)
    padded = np.concatenate([rows, np.full((height, pad), 0xAB, np.uint8)], axis=1)
    return {"height": height, "width": width, "encoding": encoding, "is_bigendian": int(big),
            "step": padded.shape[1], "data": padded.tobytes()}


def ros_message(fields: dict):
    return RosImage(header=Header(stamp=Time(sec=1, nanosec=2), frame_id="cam"), height=fields["height"],
                    width=fields["width"], encoding=fields["encoding"], is_bigendian=fields["is_bigendian"],
                    step=fields["step"], data=np.frombuffer(fields["data"], np.uint8).copy())


CASES = [(enc, big, pad) for enc in SUPPORTED_ENCODINGS for big in (False, True) for pad in (0, 3, 8)
         if not (big and encoding_info(enc).dtype.itemsize == 1)]


@pytest.mark.parametrize(("encoding", "big", "pad"), CASES)
def test_decoding_matches_rosbags_for_every_encoding_padding_and_byte_order(encoding, big, pad):
    array = random_image(encoding)
    ours = image_to_array(**raw_fields(array, encoding, big=big, pad=pad))
    oracle = message_to_cvimage(ros_message(raw_fields(array, encoding, big=big, pad=0)))
    assert ours.dtype == oracle.dtype and ours.dtype.isnative
    assert ours.shape == oracle.shape == array.shape
    np.testing.assert_array_equal(ours, oracle)
    np.testing.assert_array_equal(ours, array)
    assert ours.flags.c_contiguous and ours.flags.writeable


@pytest.mark.parametrize("encoding", SUPPORTED_ENCODINGS)
def test_message_to_array_reads_a_rosbags_message(encoding):
    array = random_image(encoding, seed=1)
    msg = ros_message(raw_fields(array, encoding, big=False, pad=4))
    np.testing.assert_array_equal(message_to_array(msg), array)


def test_message_to_array_reads_an_rclpy_image_with_padding_and_big_endian():
    sensor_msgs = require_ros_module("sensor_msgs.msg")
    array = random_image("mono16", seed=2)
    fields = raw_fields(array, "mono16", big=True, pad=2)
    msg = sensor_msgs.Image(**fields)  # rclpy stores data as array('B')
    decoded = message_to_array(msg)
    np.testing.assert_array_equal(decoded, array)
    decoded[0, 0] = 0  # the result owns its memory
    assert bytes(msg.data) == fields["data"]


def test_data_containers_decode_alike_and_output_never_aliases_the_message():
    array = random_image("bgr8", seed=3)
    fields = raw_fields(array, "bgr8", big=False, pad=0)
    buffer = bytearray(fields["data"])
    for data in (fields["data"], buffer, memoryview(buffer), list(fields["data"]), np.frombuffer(buffer, np.uint8)):
        out = image_to_array(**{**fields, "data": data})
        np.testing.assert_array_equal(out, array)
        out[...] = 0
        assert bytes(buffer) == fields["data"]


@pytest.mark.parametrize("encoding", SUPPORTED_ENCODINGS)
def test_round_trip_and_rosbags_reads_what_we_encode(encoding):
    array = random_image(encoding, seed=4)
    fields = array_to_image_fields(array, encoding)
    info = encoding_info(encoding)
    assert fields["is_bigendian"] == 0 and fields["encoding"] == encoding
    assert fields["step"] == array.shape[1] * info.channels * info.dtype.itemsize
    assert isinstance(fields["data"], PyArray) and fields["data"].typecode == "B"
    assert len(fields["data"]) == fields["step"] * fields["height"]
    np.testing.assert_array_equal(image_to_array(**fields), array)
    np.testing.assert_array_equal(message_to_cvimage(ros_message(fields)), array)


def test_encoding_accepts_non_contiguous_and_byte_swapped_arrays_and_hxwx1():
    base = random_image("mono16", seed=5)
    swapped = base.astype(">u2")
    assert image_to_array(**array_to_image_fields(swapped.astype(np.uint16), "mono16")).tolist() == base.tolist()
    strided = random_image("rgb8", seed=6)[:, ::2]
    np.testing.assert_array_equal(image_to_array(**array_to_image_fields(strided, "rgb8")), strided)
    np.testing.assert_array_equal(to_rgb8(strided[:, :, ::-1], "bgr8"), strided)
    column = base[:, :, None]
    assert array_to_image_fields(column, "16UC1")["width"] == base.shape[1]


@pytest.mark.parametrize("encoding", ["mono8", "8UC1", "rgb8", "bgr8", "8UC3", "rgba8", "bgra8", "8UC4"])
def test_to_rgb8_matches_rosbags_colour_conversion(encoding):
    array = random_image(encoding, seed=7)
    ours = to_rgb8(array, encoding)
    oracle_encoding = {"8UC1": "mono8", "8UC3": "bgr8", "8UC4": "bgra8"}.get(encoding, encoding)
    oracle = message_to_cvimage(ros_message(array_to_image_fields(array, oracle_encoding)), "rgb8")
    assert ours.dtype == np.uint8 and ours.shape == (*array.shape[:2], 3)
    np.testing.assert_array_equal(ours, oracle)
    assert not np.shares_memory(ours, array)


def test_to_rgb8_scales_mono16_with_rounding():
    array = np.array([[0, 128, 129, 257, 65535, 32896]], np.uint16)
    out = to_rgb8(array, "mono16")
    assert out[0, :, 0].tolist() == [0, 0, 1, 1, 255, 128]
    assert (out == out[:, :, :1]).all()
    # rosbags-image truncates instead of rounding: the two never differ by more than one level
    oracle = message_to_cvimage(ros_message(array_to_image_fields(array, "mono16")), "rgb8")
    assert np.abs(oracle.astype(int) - out).max() <= 1


@pytest.mark.parametrize("encoding", ["16UC1", "32FC1"])
def test_to_rgb8_refuses_rangeless_encodings(encoding):
    with pytest.raises(ImageFormatError, match="ThermalNormalizer"):
        to_rgb8(random_image(encoding), encoding)


GOOD = raw_fields(np.zeros((2, 3), np.uint16), "mono16", big=False, pad=2)


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"encoding": "yuv422"}, r"unsupported image encoding 'yuv422'.*mono8, 8UC1, mono16"),
        ({"encoding": "MONO16"}, r"case-sensitive: did you mean 'mono16'"),
        ({"encoding": None}, r"encoding must be a string"),
        ({"step": 5}, r"step 5 is shorter than one row.*3 x 2 bytes = 6"),
        ({"data": GOOD["data"][:-1]}, r"holds 15 bytes but step x height = 8 x 2 = 16"),
        ({"data": GOOD["data"] + b"\0"}, r"holds 17 bytes"),
        ({"height": 0, "data": b""}, r"zero size"),
        ({"width": 0}, r"zero size"),
        ({"height": 2.0}, r"'height' must be an integer"),
        ({"is_bigendian": 2}, r"is_bigendian must be 0 or 1"),
        ({"data": "text"}, r"image data must be bytes"),
        ({"data": np.zeros(8, np.uint16)}, r"uint8 array, got a uint16"),
        ({"data": [300] * 16}, r"integers 0-255"),
    ],
)
def test_decoding_errors_name_the_problem(change, pattern):
    with pytest.raises(ImageFormatError, match=pattern):
        image_to_array(**{**GOOD, **change})


def test_errors_belong_to_the_core_family():
    assert issubclass(ImageFormatError, DataError)


@pytest.mark.parametrize(
    ("array", "encoding", "pattern"),
    [
        (np.zeros((2, 3), np.uint16), "mono8", r"mono8 needs a uint8 array, got uint16"),
        (np.zeros((2, 3), np.float64), "32FC1", r"needs a float32 array, got float64"),
        (np.zeros((2, 3, 3), np.uint8), "mono8", r"mono8 needs an HxW array, got shape \(2, 3, 3\)"),
        (np.zeros((2, 3, 4), np.uint8), "rgb8", r"HxWx3 array, got shape \(2, 3, 4\)"),
        (np.zeros((2, 3), np.uint8), "bgra8", r"HxWx4 array"),
        (np.zeros((0, 3), np.uint8), "mono8", r"zero size"),
        ([[1, 2]], "mono8", r"expected a numpy array"),
        (np.zeros((2, 3), np.uint8), "jpeg", r"unsupported image encoding"),
    ],
)
def test_encoding_errors_name_the_problem(array, encoding, pattern):
    with pytest.raises(ImageFormatError, match=pattern):
        array_to_image_fields(array, encoding)


def test_message_to_array_rejects_objects_that_are_not_raw_images():
    with pytest.raises(ImageFormatError, match=r"missing attribute\(s\) step, data"):
        message_to_array(SimpleNamespace(height=1, width=1, encoding="mono8", is_bigendian=0))
    with pytest.raises(ImageFormatError, match="CompressedImage"):
        message_to_array(SimpleNamespace(format="jpeg", data=b""))


def test_core_io_imports_no_ros_package():
    code = ("import sys, ris_fusion_ros.core.io; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('rclpy', 'sensor_msgs', 'std_msgs')]; "
            "print(bad); sys.exit(bool(bad))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
