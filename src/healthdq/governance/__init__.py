"""Information governance: identifier masking and the audit log of access to patient rows."""

from healthdq.governance.audit import AuditKeyError, AuditLog, AuditLogError, open_log, redact
from healthdq.governance.masking import identifiers_of, mask_samples, mask_value

__all__ = [
    "AuditKeyError",
    "AuditLog",
    "AuditLogError",
    "identifiers_of",
    "mask_samples",
    "mask_value",
    "open_log",
    "redact",
]
