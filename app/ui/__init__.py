"""Everything that imports Qt widgets. The store and the receiver never import this package.

Importing this package first protects the process from a reference-counting bug: PySide6
6.12 on CPython 3.11 releases a reference to None on every call of a Qt method that returns
nothing, so after a few thousand calls Python aborts with "none_dealloc: deallocating None".
From Python 3.12 None is immortal (PEP 683) and the bug is harmless; on older versions we
give None the same practically infinite reference count before any Qt call is made.
"""

from __future__ import annotations

import ctypes
import sys


def _make_none_immortal() -> None:
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return
    refcount = ctypes.c_ssize_t.from_address(id(None))  # ob_refcnt is PyObject's first field
    refcount.value += 1 << 40


_make_none_immortal()
