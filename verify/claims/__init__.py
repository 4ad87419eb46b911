"""Claim modules, one per area; importing them registers their claims (see verify.registry)."""
