"""Point the CMake exports of the ros-jazzy-* wheels at this interpreter's headers.

The wheels are built in a manylinux container and their ``*__rosidl_generator_py``
export files name ``/opt/python/cp3XX-cp3XX/...`` include folders that do not exist
here; CMake refuses to configure a package that links them. Rewriting those paths
to this venv's Python and NumPy include folders is idempotent, so this runs after
every install of a ROS message wheel.
"""

from __future__ import annotations

import re
import sys
import sysconfig
from pathlib import Path

import numpy

_NUMPY_INC = re.compile(r"/opt/python/cp3\d+-cp3\d+/lib/python3\.\d+/site-packages/numpy/(?:_)?core/include")
_PY_INC = re.compile(r"/opt/python/cp3\d+-cp3\d+/include/python3\.\d+")


def main() -> int:
    prefix = Path(sys.prefix)
    patched = 0
    for cmake_file in prefix.glob("share/*/cmake/*.cmake"):
        text = cmake_file.read_text()
        new = _NUMPY_INC.sub(numpy.get_include(), text)
        new = _PY_INC.sub(sysconfig.get_paths()["include"], new)
        if new != text:
            cmake_file.write_text(new)
            patched += 1
    print(f"fix_ros_wheel_cmake: patched {patched} file(s) under {prefix}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
