"""Pure, sandbox-safe domain code: enums, payload models and rules. No I/O here."""
