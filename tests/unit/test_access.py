"""Who may use the service: the rules of vidsearch.access, on a real data dir."""

import stat

import pytest

from vidsearch.access import KEY_FILE, Access, is_loopback, stored_key


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("::1", True), ("localhost", True), ("127.0.0.2", True),
    ("0.0.0.0", False), ("", False), ("192.168.1.20", False), ("::", False), ("media-box.lan", False),
])
def test_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_a_key_is_made_once_readable_by_its_owner_only(tmp_path):
    assert stored_key(tmp_path, create=False) == (None, False)
    key, made = stored_key(tmp_path, create=True)
    assert made and len(key) >= 24
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    assert stored_key(tmp_path, create=True) == (key, False)  # the next start reads it


def test_what_needs_the_key(tmp_path):
    local = Access.for_service(None, "127.0.0.1", tmp_path, protect_reads=False)
    assert local.key is None and local.allows(None, write=True)
    assert not (tmp_path / KEY_FILE).exists()  # loopback makes none

    beyond = Access.for_service(None, "0.0.0.0", tmp_path, protect_reads=False)
    assert beyond.key == (tmp_path / KEY_FILE).read_text().strip()
    assert beyond.allows(None, write=False)  # reads stay open
    assert not beyond.allows(None, write=True) and not beyond.allows("wrong", write=True)
    assert beyond.allows(beyond.key, write=True)
    # Back on loopback, the key made before is not asked for.
    assert Access.for_service(None, "127.0.0.1", tmp_path, protect_reads=False).key is None

    given = Access.for_service("mine", "0.0.0.0", tmp_path, protect_reads=True)
    assert given.key == "mine"
    assert not given.allows(None, write=False) and given.allows("mine", write=False)
