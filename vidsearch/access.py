"""Who may use the service: an API key, required where the service is reachable from other machines.

A service on loopback (the default) is reachable from this machine only and needs no key. One that
listens beyond loopback without a configured key gets one at its first start, kept in the data dir
(readable by its owner only) and printed once, as notebook servers do: changing the library (deleting
videos, starting index jobs) then needs it, and with `protect_reads` so does everything else but
`/health` and the page itself. A browser gives it once as `/?key=...`, which the page turns into a
same-site cookie, so images and video streams carry it too.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

KEY_FILE = "api_key"
HEADER = "x-api-key"
COOKIE = "vidsearch_key"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # "" or 0.0.0.0 listen everywhere; a name may resolve anywhere


def stored_key(data_dir: Path, create: bool) -> tuple[str | None, bool]:
    """The data dir's key and whether this call made it; None when there is none and `create`
    is false. Made atomically, so replicas starting together agree on one key."""
    path = Path(data_dir) / KEY_FILE
    if path.exists():
        return path.read_text().strip() or None, False
    if not create:
        return None, False
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(24)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another replica made it first
        return path.read_text().strip() or None, False
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key, True


@dataclass(frozen=True)
class Access:
    key: str | None  # None: every route is open (loopback without a configured key)
    protect_reads: bool = False

    @classmethod
    def for_service(cls, configured: str | None, host: str, data_dir: Path, protect_reads: bool) -> Access:
        if configured:
            return cls(configured, protect_reads)
        needed = protect_reads or not is_loopback(host)
        return cls(stored_key(data_dir, create=True)[0] if needed else None, protect_reads)

    def allows(self, given: str | None, write: bool) -> bool:
        if self.key is None or not (write or self.protect_reads):
            return True
        return given is not None and hmac.compare_digest(given.encode(), self.key.encode())
