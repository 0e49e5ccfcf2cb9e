"""The model repository: the one contract between training and the service, written once.

Both halves import this package and nothing of each other: the names and version patterns,
the file names, the manifest's schema, a model's serving config and control state, and the
atomic publish of a version (docs/model-repository.md). It imports neither half, nor torch,
nor the web stack: the standard library and pydantic only.
"""
