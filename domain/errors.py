"""Typed rejections for workflow update validators, so the API maps them without reading error text.

Each rejection names its kind explicitly (never inferred from the field): ``conflict`` (the process is
not in a state that allows this → 409), ``forbidden`` (this person may not → 403, with the roles that
would have been allowed and the caller's own), ``invalid`` (a field is wrong → 422), ``missing`` (the
thing named does not exist → 404). The details carry ``{"field", "required_roles", "your_roles"}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from temporalio.exceptions import ApplicationError

from domain.kernel import Actor
from domain.roles import Role


class ErrorKind(StrEnum):
    conflict = "Conflict"
    forbidden = "Forbidden"
    invalid = "Invalid"
    missing = "NotFound"


def _error(kind: ErrorKind, field: str, message: str, **extra: Any) -> ApplicationError:
    return ApplicationError(f"{field}: {message}", {"field": field, **extra}, type=kind.value, non_retryable=True)


def invalid(field: str, message: str) -> ApplicationError:
    """``raise invalid("version_hash", "…")``: the caller learns which field and why (422)."""
    return _error(ErrorKind.invalid, field, message)


def conflict(field: str, message: str) -> ApplicationError:
    """The process is not in a state that allows this (409)."""
    return _error(ErrorKind.conflict, field, message)


def missing(field: str, message: str) -> ApplicationError:
    """The thing the request names does not exist in this process (404)."""
    return _error(ErrorKind.missing, field, message)


def forbidden(field: str, message: str, actor: Actor, required: Iterable[Role] = ()) -> ApplicationError:
    """This person may not do this (403); ``required`` lists the roles that could, where roles decide."""
    return _error(
        ErrorKind.forbidden,
        field,
        message,
        required_roles=sorted(r.value for r in required),
        your_roles=sorted(r.value for r in actor.roles),
    )
