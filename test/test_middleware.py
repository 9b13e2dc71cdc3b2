"""The Fast DDS image profile: loaded by default, never over a user's own profile, off on request."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ris_fusion_ros.nodes.middleware import CHOICE_ENV, PROFILE_FILE, apply_dds_profile, config_path

NS = {"f": "http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles"}


def test_the_packaged_profile_is_used_when_nothing_is_set():
    env: dict[str, str] = {}
    line = apply_dds_profile(env)
    assert env["FASTRTPS_DEFAULT_PROFILES_FILE"] == str(config_path(PROFILE_FILE))
    assert "shared memory" in line and CHOICE_ENV in line


def test_a_users_profile_and_an_opt_out_are_respected(tmp_path):
    env = {"FASTDDS_DEFAULT_PROFILES_FILE": "/etc/mine.xml"}
    assert "/etc/mine.xml" in apply_dds_profile(env) and "FASTRTPS_DEFAULT_PROFILES_FILE" not in env
    env = {CHOICE_ENV: "none"}
    assert "default transports" in apply_dds_profile(env) and "FASTRTPS_DEFAULT_PROFILES_FILE" not in env
    own = tmp_path / "p.xml"
    own.write_text("<dds/>")
    env = {CHOICE_ENV: str(own)}
    apply_dds_profile(env)
    assert env["FASTRTPS_DEFAULT_PROFILES_FILE"] == str(own)
    env = {CHOICE_ENV: str(tmp_path / "missing.xml")}
    assert "not found" in apply_dds_profile(env) and "FASTRTPS_DEFAULT_PROFILES_FILE" not in env


def test_the_profile_gives_a_default_participant_a_large_shared_memory_segment_and_udp():
    root = ET.parse(config_path(PROFILE_FILE)).getroot()
    descriptors = root.iterfind(".//f:transport_descriptor", NS)
    transports = {t.findtext("f:transport_id", namespaces=NS): t for t in descriptors}
    kinds = {t.findtext("f:type", namespaces=NS) for t in transports.values()}
    assert kinds == {"SHM", "UDPv4"}
    shm = next(t for t in transports.values() if t.findtext("f:type", namespaces=NS) == "SHM")
    assert int(shm.findtext("f:segment_size", namespaces=NS)) >= 8 * 640 * 480 * 3  # several RGB frames
    participant = root.find(".//f:participant", NS)
    assert participant.get("is_default_profile") == "true"
    used = [e.text for e in participant.iterfind(".//f:userTransports/f:transport_id", NS)]
    assert sorted(used) == sorted(transports)
    assert participant.findtext(".//f:useBuiltinTransports", namespaces=NS) == "false"
