"""The burn ledger: every apply recorded in SQLite, crash-safe, without key material."""

from fusebook.ledger.errors import DuplicateUnitValue, LedgerError
from fusebook.ledger.record import Conflict, LedgerRecord
from fusebook.ledger.store import Ledger

__all__ = ["Conflict", "DuplicateUnitValue", "Ledger", "LedgerError", "LedgerRecord"]
