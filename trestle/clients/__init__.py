"""httpx clients of the Procore and Xero APIs: auth, paging, pacing, retries and typed errors."""

from trestle.clients.auth import (
    Authenticator,
    ClientCredentialsAuthenticator,
    MemoryTokenStore,
    RefreshTokenAuthenticator,
    StaticTokenAuthenticator,
    TokenSet,
    TokenStore,
)
from trestle.clients.errors import (
    ApiResponseError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConnectionFailedError,
    DailyLimitExceeded,
    FatalApiError,
    ForbiddenError,
    MalformedResponseError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    RetriableApiError,
    ServerError,
    TransportError,
    TrestleApiError,
    ValidationFailed,
)
from trestle.clients.http import ErrorDetail, RestClient, RetryPolicy
from trestle.clients.pacing import ApiUsage, NoPacing, ProcorePacer, RateLimitPacer, XeroPacer
from trestle.clients.paging import LinkHeaderPaginator, PageNumberPaginator, Paginator
from trestle.clients.procore import ProcoreClient
from trestle.clients.procore_base import SyncResult, updated_at_filter
from trestle.clients.xero import XeroClient
from trestle.clients.xero_batch import BatchResult

__all__ = [
    "ApiResponseError",
    "ApiUsage",
    "AuthenticationError",
    "Authenticator",
    "BadRequestError",
    "BatchResult",
    "ClientCredentialsAuthenticator",
    "ConflictError",
    "ConnectionFailedError",
    "DailyLimitExceeded",
    "ErrorDetail",
    "FatalApiError",
    "ForbiddenError",
    "LinkHeaderPaginator",
    "MalformedResponseError",
    "MemoryTokenStore",
    "NoPacing",
    "NotFoundError",
    "OutcomeUnknownError",
    "PageNumberPaginator",
    "Paginator",
    "ProcoreClient",
    "ProcorePacer",
    "RateLimitPacer",
    "RateLimitedError",
    "RefreshTokenAuthenticator",
    "RestClient",
    "RetriableApiError",
    "RetryPolicy",
    "ServerError",
    "StaticTokenAuthenticator",
    "SyncResult",
    "TokenSet",
    "TokenStore",
    "TransportError",
    "TrestleApiError",
    "ValidationFailed",
    "XeroClient",
    "XeroPacer",
    "updated_at_filter",
]
