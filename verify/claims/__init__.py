"""Claim modules, one per area; importing them registers their claims (see dltheory.verify.registry)."""
