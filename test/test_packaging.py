"""Package metadata and the promises about supported Pythons and the ROS-free core."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import ris_fusion_ros

from conftest import REPO

PY_FILES = [p for p in REPO.rglob("*.py") if not {"build", "install", "log", ".venv"} & set(p.relative_to(REPO).parts)]


def test_versions_agree():
    xml_version = ET.parse(REPO / "package.xml").getroot().findtext("version")
    setup_version = re.search(r'version="([^"]+)"', (REPO / "setup.py").read_text()).group(1)
    msgs_version = ET.parse(REPO / "ris_fusion_msgs" / "package.xml").getroot().findtext("version")
    assert xml_version == setup_version == msgs_version == ris_fusion_ros.__version__


def test_sources_parse_as_python_3_10():
    """Humble users run Python 3.10: no syntax newer than that anywhere in the repository."""
    assert len(PY_FILES) > 10
    for path in PY_FILES:
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 10))


def test_core_and_cli_do_not_import_rclpy():
    code = ("import sys, ris_fusion_ros.cli, ris_fusion_ros.core.data, ris_fusion_ros.core.fusion, "
            "ris_fusion_ros.core.evaluation.fusion_eval, ris_fusion_ros.core.evaluation.report; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in {'rclpy', 'rosidl_runtime_py', 'cv_bridge'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_msgs_package_builds_the_top_level_interfaces():
    cmake = (REPO / "ris_fusion_msgs" / "CMakeLists.txt").read_text()
    for path in sorted((REPO / "msg").glob("*.msg")) + sorted((REPO / "srv").glob("*.srv")):
        assert f'"{path.parent.name}/{path.name}"' in cmake, f"{path.name} is not listed in rosidl_generate_interfaces"
    assert (REPO / "ris_fusion_msgs" / "msg").resolve() == (REPO / "msg").resolve()
