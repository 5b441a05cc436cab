class StoreError(RuntimeError):
    """The store cannot do what was asked; the message is meant for users."""


class StoreUnavailable(StoreError):
    """The Qdrant server cannot be reached."""


class StoreBusy(StoreError):
    """The embedded store's folder is held by another process."""


class DiskFull(StoreError):
    """The disk holding the data dir is (nearly) full; writes stopped before it ran out."""
