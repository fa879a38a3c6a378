"""One error hierarchy: each class knows its HTTP status, its code and its type (SPEC §8)."""

from __future__ import annotations

from typing import Any, ClassVar


class GatewayError(Exception):
    """Base of every error the gateway answers with; rendered as the envelope of SPEC §8."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"
    type: ClassVar[str] = "internal_error"

    def __init__(
        self, message: str, *, details: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


class AuthenticationRequired(GatewayError):
    status, code, type = 401, "AUTHENTICATION_REQUIRED", "authentication_error"


class InvalidApiKey(GatewayError):
    status, code, type = 401, "INVALID_API_KEY", "authentication_error"


class OrganizationAccessDenied(GatewayError):
    status, code, type = 403, "ORGANIZATION_ACCESS_DENIED", "permission_error"


class NotFound(GatewayError):
    status, code, type = 404, "NOT_FOUND", "not_found"


class ThreadNotFound(NotFound):
    code = "THREAD_NOT_FOUND"

    def __init__(self, thread_id: str) -> None:
        # The message is the same whether the thread never existed, was deleted, expired or
        # belongs to another organization: nothing here may tell those apart.
        super().__init__(f"Thread '{thread_id}' was not found.")


class ResponseNotFound(NotFound):
    code = "RESPONSE_NOT_FOUND"

    def __init__(self, response_id: str) -> None:
        super().__init__(f"Response '{response_id}' was not found.")


class MessageNotFound(NotFound):
    code = "MESSAGE_NOT_FOUND"

    def __init__(self, message_id: str) -> None:
        super().__init__(f"Message '{message_id}' was not found.")


class AssistantNotFound(NotFound):
    code = "ASSISTANT_NOT_FOUND"

    def __init__(self, assistant_id: str) -> None:
        # The same message for an unknown id and for another organization's assistant.
        super().__init__(f"Assistant '{assistant_id}' was not found.")


class MemoryNotFound(NotFound):
    code = "MEMORY_NOT_FOUND"

    def __init__(self, memory_id: str) -> None:
        super().__init__(f"Memory '{memory_id}' was not found.")


class MemoryOperationNotFound(NotFound):
    code = "MEMORY_OPERATION_NOT_FOUND"

    def __init__(self, operation_id: str) -> None:
        super().__init__(f"Memory operation '{operation_id}' was not found.")


class ModelNotFound(NotFound):
    code = "MODEL_NOT_FOUND"


class MethodNotAllowed(GatewayError):
    status, code, type = 405, "METHOD_NOT_ALLOWED", "invalid_request_error"


class Conflict(GatewayError):
    status, type = 409, "conflict"


class ThreadAlreadyExists(Conflict):
    code = "THREAD_ALREADY_EXISTS"


class AssistantAlreadyExists(Conflict):
    code = "ASSISTANT_ALREADY_EXISTS"

    def __init__(self, assistant_id: str) -> None:
        super().__init__(f"Assistant '{assistant_id}' already exists.")


class ThreadLocked(Conflict):
    code = "THREAD_LOCKED"


class ThreadArchived(Conflict):
    code = "THREAD_ARCHIVED"


class ThreadBusy(Conflict):
    """Another turn on the thread held it for longer than this turn may wait."""

    code = "THREAD_BUSY"

    def __init__(self, thread_id: str, *, retry_after_s: int = 1) -> None:
        super().__init__(
            f"Thread '{thread_id}' is busy with another turn; try again shortly.",
            headers={"Retry-After": str(retry_after_s)},
        )


class IdempotencyInFlight(Conflict):
    code = "IDEMPOTENCY_IN_FLIGHT"

    def __init__(self) -> None:
        super().__init__(
            "A request with this Idempotency-Key is still running; retry once it has finished.",
            headers={"Retry-After": "1"},
        )


class Cancelled(Conflict):
    """The stream was stopped by its client (a cancel); nothing of it was kept."""

    code = "CANCELLED"
    type = "cancelled"


class InvalidStateTransition(Conflict):
    code = "INVALID_STATE_TRANSITION"


class ThreadMessageLimit(Conflict):
    code = "THREAD_MESSAGE_LIMIT"


class PayloadTooLarge(GatewayError):
    status, code, type = 413, "PAYLOAD_TOO_LARGE", "invalid_request_error"


class ValidationFailed(GatewayError):
    status, code, type = 422, "VALIDATION_ERROR", "invalid_request_error"


class IdempotencyMismatch(GatewayError):
    status, code, type = 422, "IDEMPOTENCY_MISMATCH", "invalid_request_error"

    def __init__(self) -> None:
        super().__init__("This Idempotency-Key was used with a different request.")


class MetadataTooLarge(GatewayError):
    status, code, type = 422, "METADATA_TOO_LARGE", "invalid_request_error"


class BadRequest(GatewayError):
    status, type = 400, "invalid_request_error"


class UnsupportedParameter(BadRequest):
    code = "UNSUPPORTED_PARAMETER"

    def __init__(self, name: str) -> None:
        super().__init__(
            f"`{name}` is not supported by this gateway; send it absent, null, empty or at its default.",
            details={"parameter": name},
        )


class ConflictingParameters(BadRequest):
    code = "CONFLICTING_PARAMETERS"


class ContextLengthExceeded(BadRequest):
    code = "CONTEXT_LENGTH_EXCEEDED"


class RateLimited(GatewayError):
    status, code, type = 429, "RATE_LIMITED", "rate_limit_error"


class ProviderFailed(GatewayError):
    status, code, type = 502, "PROVIDER_ERROR", "provider_error"


class ProviderNotConfigured(GatewayError):
    status, code, type = 503, "PROVIDER_NOT_CONFIGURED", "provider_error"


class StoreUnavailable(GatewayError):
    status, code, type = 503, "STORE_UNAVAILABLE", "service_unavailable"


class ShuttingDown(GatewayError):
    """The process is shutting down and stopped this turn before saving anything."""

    status, code, type = 503, "SHUTTING_DOWN", "service_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "The gateway is restarting; the turn was not saved. Try again.", headers={"Retry-After": "1"}
        )


class ProviderTimeout(GatewayError):
    status, code, type = 504, "PROVIDER_TIMEOUT", "provider_error"


class InternalError(GatewayError):
    pass
