"""What the control API raises: one exception type, each message naming the operation."""

from __future__ import annotations


class IdpControlError(Exception):
    """An identity-provider control operation failed; the message names the operation."""


class NotSupportedOnKeycloak(IdpControlError):
    """A mock-only control (claims, lifetimes, clock, keys, faults) was asked of a real Keycloak."""

    def __init__(self, operation: str) -> None:
        super().__init__(
            f"idp.{operation}() is a mock-only control: a real Keycloak has no x-mock API. "
            "Run with --sandbox-backend mock, or mark the test @pytest.mark.mock_only."
        )
        self.operation = operation


class UnknownUser(IdpControlError, LookupError):
    """No user of that name in the realm."""
