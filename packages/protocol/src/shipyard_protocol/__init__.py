"""Wire models and error codes shared by Bay, Ship and the SDK."""

from shipyard_protocol.errors import ErrorBody, ErrorCode, ErrorDetail

__all__ = ["ErrorBody", "ErrorCode", "ErrorDetail"]
