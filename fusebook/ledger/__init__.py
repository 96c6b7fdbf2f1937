"""The burn ledger: every apply recorded (SQLite or PostgreSQL), crash-safe, without key material."""

from fusebook.ledger.errors import DuplicateUnitValue, IndexRefused, LedgerError
from fusebook.ledger.record import Allocation, Conflict, LedgerRecord
from fusebook.ledger.store import Ledger

__all__ = ["Allocation", "Conflict", "DuplicateUnitValue", "IndexRefused", "Ledger", "LedgerError", "LedgerRecord"]
