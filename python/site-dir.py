# SPDX-License-Identifier: MIT
"""Prints the directory under the prefix argv[1] that this Python imports packages from.

Meson's own choice is not always searched: on Debian it is
/usr/local/lib/python3/dist-packages for the prefix /usr/local, where
python3 looks in /usr/local/lib/python3.11/dist-packages. Prints nothing
when no such directory is on sys.path (a venv or another prefix).
"""

import os
import sys

prefix = os.path.normpath(sys.argv[1])
for path in sys.path:
    if (path and os.path.relpath(path, prefix).startswith("lib")
            and path.endswith(("site-packages", "dist-packages"))):
        print(path)
        break
