"""lsi-sidecar: a crash-proof Lightning Source ACS checkpoint beside a book pipeline."""

__version__ = "0.1.0"
