"""Cross-cutting plumbing: settings, logging, Temporal client, the CLI."""
