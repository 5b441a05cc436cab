"""vidsearch core library: media decoding, embedders, fingerprints, store and alignment.

Shared by the batch indexing jobs and the serving application; it never imports Ray Serve.
"""

__version__ = "0.1.0"
