"""Where theory meets simulation: statistics helpers, the claim registry and suite, the report and CLI."""
