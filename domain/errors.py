"""Typed rejections for workflow update validators, so the API maps them without reading error text."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

CONFLICT = "Conflict"  # the process is not in a state that allows this (HTTP 409)
FORBIDDEN = "Forbidden"  # this person may not do this (HTTP 403)
INVALID = "Invalid"  # a field is wrong (HTTP 422)

_KIND_BY_FIELD = {"stage": CONFLICT, "role": FORBIDDEN, "actor": FORBIDDEN}


def reject(field: str, message: str) -> ApplicationError:
    """``raise reject("version_hash", "…")``: the caller learns which field and why."""
    return ApplicationError(
        f"{field}: {message}", field, type=_KIND_BY_FIELD.get(field, INVALID), non_retryable=True
    )
