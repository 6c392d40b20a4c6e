"""pip install ./python --no-build-isolation (offline, Debian's setuptools).

Links the extension against libhers: an installed one found by pkg-config
(`make install`, or the libhers-dev package), else the static library of
this source tree's build (`make` first). docs/python.md."""
import os
import shlex
import subprocess

from setuptools import Extension, setup

here = os.path.dirname(os.path.abspath(__file__))
top = os.path.dirname(here)


def pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args, "hers"], check=True, capture_output=True,
                             text=True).stdout
        return shlex.split(out)
    except (OSError, subprocess.CalledProcessError):
        return None


cflags = pkg_config("--cflags")
libs = pkg_config("--libs")
static = os.path.join(top, "build", "libhers.a")
if os.path.exists(static) or not cflags:
    # the tree's own build: its headers, its static library and the libraries
    # hers.pc lists as private (linked as shared libraries)
    cflags = ["-I" + os.path.join(top, "include")]
    req = subprocess.run(["pkg-config", "--libs", "libsodium", "zlib", "lmdb", "libmicrohttpd",
                          "libcurl"], capture_output=True, text=True).stdout
    libs = [static] + shlex.split(req) + ["-llapacke", "-lopenblas", "-lpthread", "-lm"]

setup(
    name="hers",
    version="0.1.0",
    description="Homomorphically encrypted representation search (numpy binding of libhers)",
    packages=["hers"],
    ext_modules=[Extension("hers._hers", sources=["_hers.c"], extra_compile_args=cflags,
                           extra_link_args=libs)],
    install_requires=["numpy"],
    python_requires=">=3.9",
)
