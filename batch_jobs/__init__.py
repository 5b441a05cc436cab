"""Ray Data jobs: thin pipelines over vidsearch's core objects."""
