"""Ray Serve application: HTTP search and clip matching over the index."""
