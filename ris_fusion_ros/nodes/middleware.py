"""Process settings that must be in place before ``rclpy.init``: the Fast DDS profile for images.

With Fast DDS's default transports a 640x480 image travels as ~15 UDP fragments; at 30 Hz the
subscriber of a reliable image topic received about a third of the frames on the 2-core test
machine (``ris-fusion bench live``). ``config/fastdds_large_images.xml`` gives each participant a
16 MB shared-memory segment, so whole images cross between processes on one host in one piece
(UDP stays for discovery and for other hosts). Every executable of this package loads it unless
the user already chose a Fast DDS profile or sets ``RIS_FUSION_DDS_PROFILE=none`` (Fast DDS
defaults) or ``RIS_FUSION_DDS_PROFILE=/path/profile.xml``.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

from .system import PACKAGE

PROFILE_FILE = "fastdds_large_images.xml"
CHOICE_ENV = "RIS_FUSION_DDS_PROFILE"
FASTDDS_ENVS = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")


def config_path(name: str) -> Path:
    """A file of the package's ``config/`` folder: the installed share directory, else the source tree."""
    try:
        from ament_index_python.packages import get_package_share_directory

        installed = Path(get_package_share_directory(PACKAGE)) / "config" / name
        if installed.is_file():
            return installed
    except Exception:  # ament_index not importable, or the package is not installed (source checkout)
        pass
    return Path(__file__).resolve().parents[2] / "config" / name


def apply_dds_profile(environ: MutableMapping[str, str] = os.environ) -> str:
    """Point Fast DDS at the image profile unless the user decided otherwise; return a line for the log."""
    for key in FASTDDS_ENVS:
        if environ.get(key):
            return f"Fast DDS profile from ${key}: {environ[key]}"
    choice = environ.get(CHOICE_ENV, "").strip()
    if choice.lower() == "none":
        return f"Fast DDS default transports (${CHOICE_ENV}=none)"
    path = Path(choice) if choice else config_path(PROFILE_FILE)
    if not path.is_file():
        return f"Fast DDS default transports: profile {path} not found (set ${CHOICE_ENV} to a file or 'none')"
    environ["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(path)
    return f"Fast DDS profile {path} (shared memory for large images; ${CHOICE_ENV}=none to turn off)"
