"""Platform adapters (sandbox + real), notifiers, monitoring sources."""
