"""Information governance: identifier masking and the audit log of access to patient rows."""

from healthdq.governance.audit import AuditLog, AuditLogError, redact
from healthdq.governance.masking import identifiers_of, mask_samples, mask_value

__all__ = ["AuditLog", "AuditLogError", "identifiers_of", "mask_samples", "mask_value", "redact"]
