"""Free disk space, checked before the store or the thumbnails write.

The embedded engine memory-maps its files: a write into a mapped page that the disk cannot hold
kills the process with SIGBUS instead of raising an error (seen on a full disk: the store's owner
died, and the next `vidsearch videos` crashed with "Bus error"). So writes stop while a margin is
left, with an error that says so; records, deletes and status changes fit in that margin.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from vidsearch.store.errors import DiskFull

MB = 1 << 20
# Opening may add segments, and some filesystems (tmpfs) allocate their 32 MB pages at once: a
# second open of a new store took 106 MB there.
OPEN_FLOOR_MB = 128
AFTER = "Videos finished so far are kept; free some space and run again."


def free_mb(path: Path) -> float:
    """Free megabytes on the disk of `path`, or of its nearest existing parent."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize / MB


def ensure_free(path: Path, need_mb: float, doing: str) -> None:
    """Raise DiskFull unless the disk of `path` has `need_mb` free."""
    have = free_mb(path)
    if have < need_mb:
        raise DiskFull(f"the disk holding {path} is full: {have:.1f} MB free, and {doing} keeps {need_mb:.0f} MB "
                       f"free (setting min_free_mb). {AFTER}")


def disk_full(path: Path, doing: str, error: OSError) -> DiskFull:
    return DiskFull(f"the disk holding {path} is full ({error.strerror}) while {doing}. {AFTER}")


def is_disk_full(error: OSError) -> bool:
    return error.errno in (errno.ENOSPC, errno.EDQUOT)
