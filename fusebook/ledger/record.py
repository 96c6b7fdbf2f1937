"""What one ledger record says, as frozen values, and the rules its fields obey.

A record is one `apply` of one recipe to one chip. It is written in two steps (see
`store.Ledger.begin` and `finish`), so its outcome may still read "in-progress"; every
other outcome is final.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from fusebook.secret import Secret

IN_PROGRESS = "in-progress"
INTERRUPTED = "interrupted"
OK = "ok"
NOTHING_TO_DO = "nothing-to-do"
FAILED = "failed"
REFUSED = "refused"
PARTIAL = "partial"  # a stop (signal) ended the burn between programs: some blocks burned
ABORTED = "aborted"  # a stop came before the first program command: nothing sent

#: Outcomes `finish` may record. "interrupted" is also what the ledger writes by itself
#: for an in-progress record whose process is known to be gone (killed, crashed, reboot).
FINAL_OUTCOMES = (OK, NOTHING_TO_DO, FAILED, REFUSED, INTERRUPTED, PARTIAL, ABORTED)
ALL_OUTCOMES = (IN_PROGRESS, *FINAL_OUTCOMES)

#: Records whose per-unit values count as "on that chip" when looking for duplicates:
#: burned and verified, found already burned, or a burn that may have reached the chip.
#: A failed, refused or aborted apply does not claim its values.
CLAIMING_OUTCOMES = (OK, NOTHING_TO_DO, IN_PROGRESS, INTERRUPTED, PARTIAL)

_FINGERPRINT = re.compile(r"sha256:[0-9a-f]{16,64}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_BLANK = re.compile(r"(0x)?[0:.\- ]*|none|false")


def normalise_mac(mac: str) -> str:
    """Chips are keyed by factory MAC in one spelling: trimmed, lower case."""
    return mac.strip().lower()


def unknown_mac(mac: str) -> bool:
    """True for a MAC that identifies no chip: none, 'unknown', or all zeros (a blank chip).

    Such a chip might be any chip, so it is never "the same unit" as a recorded one.
    """
    m = normalise_mac(mac)
    return m in ("", "unknown") or not m.replace(":", "").replace("-", "").strip("0")


def normalise_value(value: str) -> str:
    """Per-unit values compare trimmed and case-insensitively (MACs, hex IDs)."""
    return value.strip().lower()


def is_blank(value: str) -> bool:
    """An unset field (all zeros, empty) is not a per-unit value and never a duplicate.

    A recipe may skip its MAC step for some units (`when:`); their CUSTOM_MAC reads
    00:00:00:00:00:00 on every chip, which must not make the second such chip a duplicate.
    """
    return _BLANK.fullmatch(normalise_value(value)) is not None


def check_text(name: str, value: object, *, optional: bool = False) -> str | None:
    """Fields are plain text; a `Secret` or anything else is a caller bug, refused loudly."""
    if value is None and optional:
        return None
    if isinstance(value, Secret):
        raise TypeError(f"ledger field {name!r}: key material is never recorded (got a Secret)")
    if not isinstance(value, str):
        raise TypeError(f"ledger field {name!r} must be text, got {type(value).__name__}")
    if not optional and not value.strip():
        raise TypeError(f"ledger field {name!r} must not be empty")
    return value


def check_text_map(name: str, value: Mapping[str, Any]) -> dict[str, str]:
    """A name -> text mapping, stored as JSON; keys and values are checked like fields."""
    if not isinstance(value, Mapping):
        raise TypeError(f"ledger field {name!r} must be a mapping, got {type(value).__name__}")
    out: dict[str, str] = {}
    for k, v in value.items():
        key = check_text(f"{name} key", k)
        assert key is not None
        if v is None:
            raise TypeError(f"ledger field {name}[{k}] must be text, got None")
        text = check_text(f"{name}[{k}]", v, optional=True)
        out[key] = text or ""
    return out


def check_fingerprints(value: Mapping[str, Any]) -> dict[str, str]:
    """Key fingerprints must look like `Secret.fingerprint`, so raw key hex cannot slip in."""
    out = check_text_map("key_fingerprints", value)
    for block, fp in out.items():
        if not _FINGERPRINT.fullmatch(fp):
            raise ValueError(f"key fingerprint for {block} is not of the form sha256:<hex> "
                             "(pass Secret.fingerprint, never key bytes)")
    return out


def check_files(value: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The files a plan read, each `{"path", "digest"}`: a digest is `sha256:` and hex
    (a file's SHA-256, or a key file's fingerprint), so no file content can slip in."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"ledger field 'recipe_files' must be a list, got {type(value).__name__}")
    out: list[dict[str, str]] = []
    for n, entry in enumerate(value):
        item = check_text_map(f"recipe_files[{n}]", entry)
        if set(item) != {"path", "digest"} or not item["path"]:
            raise ValueError(f"recipe_files[{n}] must hold exactly a path and a digest")
        if not _FINGERPRINT.fullmatch(item["digest"]):
            raise ValueError(f"recipe_files[{n}] digest is not of the form sha256:<hex>")
        out.append(item)
    return out


def check_sha256(name: str, value: object) -> str:
    text = check_text(name, value)
    assert text is not None
    digest = text.strip().lower()
    if not _SHA256.fullmatch(digest):
        raise ValueError(f"ledger field {name!r} must be a SHA-256 hex digest")
    return digest


def check_json(name: str, value: object) -> str | None:
    """The plan is stored as the caller's JSON text, but only if it is JSON."""
    text = check_text(name, value, optional=True)
    if text is not None:
        try:
            json.loads(text)
        except ValueError as e:
            raise ValueError(f"ledger field {name!r} is not JSON: {e}") from None
    return text


def _frozen(d: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class LedgerRecord:
    """One apply of one recipe to one chip, as the ledger holds it."""

    id: int
    started_at: str
    finished_at: str | None
    chip_type: str
    revision: int | None
    factory_mac: str
    recipe_name: str
    recipe_sha256: str
    #: every file the plan read, `{"path": relative to the recipe, "digest": sha256:...}`;
    #: `recipe_sha256` is the SHA-256 over this list (see docs/ledger.md)
    recipe_files: tuple[Mapping[str, str], ...]
    index: int | None
    input_digests: Mapping[str, str]
    plan_json: str | None
    plan_digest: str | None
    before_token: str | None
    after_token: str | None
    unique_values: Mapping[str, str]
    key_fingerprints: Mapping[str, str]
    outcome: str
    exit_code: int | None
    error: str | None
    host: str
    pid: int
    fusebook_version: str

    @property
    def finished(self) -> bool:
        return self.outcome != IN_PROGRESS

    @property
    def plan(self) -> Any:
        """The plan as a JSON value (None for records refused before planning)."""
        return None if self.plan_json is None else json.loads(self.plan_json)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types, the plan parsed: what `fusebook ledger show --format json` prints."""
        return {
            "id": self.id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "chip_type": self.chip_type,
            "revision": self.revision,
            "factory_mac": self.factory_mac,
            "recipe_name": self.recipe_name,
            "recipe_sha256": self.recipe_sha256,
            "recipe_files": [dict(f) for f in self.recipe_files],
            "index": self.index,
            "input_digests": dict(self.input_digests),
            "plan": self.plan,
            "plan_digest": self.plan_digest,
            "before_token": self.before_token,
            "after_token": self.after_token,
            "unique_values": dict(self.unique_values),
            "key_fingerprints": dict(self.key_fingerprints),
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "error": self.error,
            "host": self.host,
            "pid": self.pid,
            "fusebook_version": self.fusebook_version,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> LedgerRecord:
        return cls(
            id=row["id"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            chip_type=row["chip_type"],
            revision=row["revision"],
            factory_mac=row["factory_mac"],
            recipe_name=row["recipe_name"],
            recipe_sha256=row["recipe_sha256"],
            recipe_files=tuple(_frozen(f) for f in json.loads(row["recipe_files"])),
            index=row["unit_index"],
            input_digests=_frozen(json.loads(row["input_digests"])),
            plan_json=row["plan"],
            plan_digest=row["plan_digest"],
            before_token=row["before_token"],
            after_token=row["after_token"],
            unique_values=_frozen(json.loads(row["unique_values"])),
            key_fingerprints=_frozen(json.loads(row["key_fingerprints"])),
            outcome=row["outcome"],
            exit_code=row["exit_code"],
            error=row["error"],
            host=row["host"],
            pid=row["pid"],
            fusebook_version=row["fusebook_version"],
        )


#: Records that say a unit is done: `--index auto` refuses to allocate for it again.
DONE_OUTCOMES = (OK, NOTHING_TO_DO)


@dataclass(frozen=True)
class Allocation:
    """An index of a recipe's range, bound to one unit (factory MAC) for good.

    `state` is the outcome of the latest record of that unit under that index ("" if the
    unit has no record yet): "ok" or "nothing-to-do" means it is done.
    """

    id: int
    recipe_name: str
    index: int
    factory_mac: str
    index_range: str
    allocated_at: str
    host: str
    pid: int
    fusebook_version: str
    state: str = ""
    new: bool = False

    @property
    def done(self) -> bool:
        return self.state in DONE_OUTCOMES

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "recipe_name": self.recipe_name, "index": self.index,
            "factory_mac": self.factory_mac, "index_range": self.index_range,
            "allocated_at": self.allocated_at, "host": self.host, "pid": self.pid,
            "fusebook_version": self.fusebook_version, "state": self.state,
        }

    @classmethod
    def from_row(cls, row: Any, *, new: bool = False) -> Allocation:
        return cls(
            id=row["id"], recipe_name=row["recipe_name"], index=row["unit_index"],
            factory_mac=row["factory_mac"], index_range=row["index_range"],
            allocated_at=row["allocated_at"], host=row["host"], pid=row["pid"],
            fusebook_version=row["fusebook_version"], state=row["state"] or "", new=new,
        )


@dataclass(frozen=True)
class Conflict:
    """A per-unit value this unit wants that the ledger records on another chip."""

    field: str
    value: str
    factory_mac: str
    record_id: int
    recipe_name: str
    started_at: str
    outcome: str

    def __str__(self) -> str:
        return (f"{self.field} = {self.value} is already on chip {self.factory_mac} "
                f"(ledger record {self.record_id}, {self.recipe_name}, {self.started_at}, {self.outcome})")
