"""Example job functions referenced by the manifests in ``manifests/``."""
