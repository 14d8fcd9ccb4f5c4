"""The thin HTTP door: validate, authorize, call a query function or a workflow handle, map errors."""
