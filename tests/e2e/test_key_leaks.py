"""No key byte in any output: a leak scanner run over resumed burns, secret block data,
`require`/`ensure` messages and every key purpose of several chips.

Each secret is looked for as hex (both cases), reversed, base64 and base64url, in every
output: stdout, stderr, saved plans, every ledger column (read with sqlite), the ledger's
CSV export and JSON records, `check`'s JUnit XML and JSON, and the blocks of every eFuse
token found in any of them.
"""

from __future__ import annotations

import base64
import contextlib
import io
import re
import sqlite3
import zlib
from pathlib import Path

import pytest

from fusebook import api
from fusebook.chips.loader import load_chip
from fusebook.errors import FusebookError, LinkError
from fusebook.ledger.store import Ledger
from fusebook.virtual.chip import VirtualChip
from fusebook.virtual.server import FaultPlan, VirtualRomServer

from .conftest import RECIPES, fusebook

TOKEN = re.compile(r"EFS[RW]{1,2}:[A-Za-z0-9_:=-]+")


def forms(secret: bytes) -> list[bytes]:
    """The secret as it could leak: raw, hex, HEX, base64, base64url, each also reversed."""
    out = []
    for k in (secret, secret[::-1]):
        out += [k, k.hex().encode(), k.hex().upper().encode(), base64.b64encode(k).rstrip(b"="),
                base64.urlsafe_b64encode(k).rstrip(b"=")]
    return out


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_blocks(blob: bytes) -> list[bytes]:
    """The raw bytes of every block of every eFuse token in `blob` (a key need not be aligned)."""
    out = []
    for m in TOKEN.finditer(blob.decode("utf-8", "replace")):
        for piece in m.group(0).split(":")[3:-2]:
            with contextlib.suppress(ValueError):
                out.append(_unb64(piece) if piece else b"")
    return out


class Scan:
    """Collects every output of a flow, then looks in all of them for the secrets."""

    def __init__(self) -> None:
        self.outputs: list[tuple[str, bytes]] = []

    def add(self, what: str, blob: bytes | str) -> None:
        self.outputs.append((what, blob.encode() if isinstance(blob, str) else blob))

    def cli(self, *args: object, code: int | None = 0, stdin: str | None = None) -> str:
        r = fusebook(*map(str, args), stdin=stdin)
        what = " ".join(map(str, args[:2]))
        if code is not None:
            assert r.code == code, (what, r.code, r.err)
        self.add(f"{what} stdout", r.out)
        self.add(f"{what} stderr", r.err)
        return r.out + r.err

    def file(self, path: Path) -> None:
        if path.exists():
            self.add(path.name, path.read_bytes())

    def ledger(self, path: Path, *, cli: bool = True) -> int:
        """Every column of every row (sqlite), the CSV export and each record's JSON."""
        db = sqlite3.connect(path)
        try:
            tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for t in tables:
                for row in db.execute(f'SELECT * FROM "{t}"'):  # noqa: S608 - table names from sqlite
                    for value in row:
                        self.add(f"ledger {t}", value if isinstance(value, bytes) else str(value))
            ids = [i for (i,) in db.execute("SELECT id FROM records")]
        finally:
            db.close()
        if cli:
            self.cli("ledger", "export", "--csv", "--ledger", path)
            self.cli("ledger", "list", "--ledger", path, "--format", "json")
            for i in ids:
                self.cli("ledger", "show", i, "--ledger", path, "--format", "json")
        else:
            with Ledger(path) as ledger:
                buf = io.StringIO()
                ledger.export_csv(buf)
                self.add("ledger csv", buf.getvalue())
                for i in ids:
                    record = ledger.get(i)
                    assert record is not None
                    self.add(f"ledger record {i}", repr(record.to_json()))
        for p in path.parent.glob(path.name + "*"):
            self.file(p)
        return len(ids)

    def assert_clean(self, *secrets: bytes) -> None:
        assert self.outputs
        blobs = [(w, b) for w, b in self.outputs]
        blobs += [(f"token in {w}", block) for w, b in self.outputs for block in token_blocks(b)]
        for secret in secrets:
            for form in forms(secret):
                for what, blob in blobs:
                    assert form not in blob, f"secret ({len(secret)} bytes) shows in {what}"


def _key(seed: int, n: int = 32) -> bytes:
    """Distinct, non-placeholder key bytes."""
    return b"".join(zlib.crc32(bytes([seed, i])).to_bytes(4, "little") for i in range(n // 4 + 1))[:n]


# -- an interrupted apply, resumed ----------------------------------------------------
def _prefill(tmp: Path, chip: str, efuse: Path, writes: list[tuple[str, bytes]]) -> None:
    """The data phase of an interrupted burn: key bytes in the blocks, no purpose, no protection."""
    steps = "".join(f"  - burn_block_data: {{block: {b}, offset: 0, data: '{d.hex()}'}}\n" for b, d in writes)
    r = tmp / "prefill.yaml"
    r.write_text(f"fusebook: 1\nname: prefill\nchip: {chip}\nsteps:\n{steps}")
    run = fusebook("apply", r, "--virt", "--chip", chip, "--efuse-file", efuse, "--yes", "--no-ledger")
    assert run.code == 0, run.err


@pytest.mark.parametrize(
    "recipe,chip,keyfile,layout",
    [
        ("flash-encryption-esp32c3.yaml", "esp32c3", "keys/demo-fe-128.bin", [("BLOCK_KEY0", 0, 32)]),
        ("flash-encryption-esp32s3.yaml", "esp32s3", "keys/demo-fe-256.bin", [("BLOCK_KEY0", 0, 32)]),
    ],
)
def test_a_resumed_key_burn_leaks_nothing(tmp_path: Path, recipe: str, chip: str, keyfile: str,
                                          layout: list[tuple[str, int, int]]) -> None:
    """The re-run of a burn stopped after the key's data phase: the key is readable, no purpose yet."""
    key = (RECIPES / keyfile).read_bytes()
    efuse, ledger, plan_file = tmp_path / "chip.efuse", tmp_path / "ledger.sqlite", tmp_path / "plan.json"
    _prefill(tmp_path, chip, efuse, [(b, key[lo:hi][::-1]) for b, lo, hi in layout])  # XTS: reversed
    conn = ["--virt", "--chip", chip, "--efuse-file", efuse]
    scan = Scan()
    for fmt in ("text", "json"):
        scan.cli("plan", RECIPES / recipe, *conn, "-o", plan_file, "--format", fmt)
        scan.file(plan_file)
    scan.cli("apply", RECIPES / recipe, *conn, "--ledger", ledger, "--yes")
    scan.cli("apply", RECIPES / recipe, *conn, "--ledger", ledger, "--yes", "--format", "json")
    assert scan.ledger(ledger) == 2
    scan.assert_clean(key, *(key[i : i + 32] for i in range(0, len(key), 32)))


def test_an_apply_cut_by_a_disconnect_and_resumed_leaks_nothing(tmp_path: Path) -> None:
    """A real interruption over the ROM protocol: the link drops after the key block is programmed."""
    key = (RECIPES / "keys/demo-fe-128.bin").read_bytes()
    loaded = api.load_recipe(RECIPES / "flash-encryption-esp32c3.yaml")
    chip = load_chip("esp32c3")
    ledger_path = tmp_path / "ledger.sqlite"
    scan = Scan()
    opts = dict(chip="esp32c3", before="no-reset", after="no-reset", timeout=0.25)
    cut = None
    for k in range(10, 400, 3):
        vc = VirtualChip(chip)
        with VirtualRomServer(vc, chip, faults=FaultPlan(disconnect_after=k)) as server, \
                Ledger(ledger_path) as ledger:
            try:
                with api.connect(api.ConnectOptions(port=server.url, **opts)) as s:  # type: ignore[arg-type]
                    api.apply(loaded, s, None, ledger=ledger)
            except LinkError as e:
                scan.add("link error", e.message + (e.hint or ""))
        image = vc.image()
        if image.blocks[chip.block("BLOCK_KEY0").id] and not image.raw("KEY_PURPOSE_0"):
            cut = k
            break
    assert cut is not None, "no disconnect left the key programmed and its purpose unburned"
    with VirtualRomServer(vc, chip) as server, Ledger(ledger_path) as ledger, \
            api.connect(api.ConnectOptions(port=server.url, **opts)) as s:  # type: ignore[arg-type]
        outcome = api.apply(loaded, s, None, ledger=ledger)
    assert outcome.burned
    assert scan.ledger(ledger_path) >= 2
    scan.assert_clean(key)


# -- secret inputs as block data -------------------------------------------------------
SECRET_DATA = bytes(range(0xA3, 0xC3))  # 32 bytes


def _block_data_recipe(tmp: Path, block: str, extra: str = "") -> Path:
    (tmp / "token.bin").write_bytes(SECRET_DATA)
    r = tmp / "r.yaml"
    r.write_text(
        "fusebook: 1\nname: s\nchip: esp32c3\n"
        "inputs:\n  token: {file: token.bin, format: binary, secret: true}\n"
        f"steps:\n  - burn_block_data: {{block: {block}, offset: 0, data: '{{{{ inputs.token | hex }}}}'}}\n"
        + extra
    )
    return r


@pytest.mark.parametrize("block", ["BLOCK_USR_DATA", "BLOCK_KEY3", "BLOCK_SYS_DATA2"])
def test_secret_block_data_stays_out_of_tokens(tmp_path: Path, block: str) -> None:
    recipe = _block_data_recipe(tmp_path, block)
    efuse, ledger, plan_file = tmp_path / "c.efuse", tmp_path / "l.sqlite", tmp_path / "p.json"
    conn = ["--virt", "--chip", "esp32c3", "--efuse-file", efuse]
    scan = Scan()
    scan.cli("plan", recipe, *conn, "-o", plan_file, "--format", "json")
    scan.file(plan_file)
    scan.cli("apply", recipe, *conn, "--ledger", ledger, "--yes")
    scan.cli("plan", recipe, *conn, "-o", plan_file)  # after the burn: nothing to do, data on chip
    scan.file(plan_file)
    scan.cli("apply", recipe, *conn, "--ledger", ledger, "--yes", "--format", "json")
    assert scan.ledger(ledger) == 2
    junit = tmp_path / "check.xml"
    scan.cli("check", recipe, "--indices", "1-3", "--snapshot", "blank", "--chip", "esp32c3",
             "--junit", junit, "--format", "json")
    scan.file(junit)
    scan.assert_clean(SECRET_DATA)


def test_a_refused_unit_of_a_recipe_with_secrets_records_no_secret(tmp_path: Path) -> None:
    """A refusal has no plan to say where the secret went: the record keeps only BLOCK0."""
    recipe = _block_data_recipe(tmp_path, "BLOCK_USR_DATA")
    efuse, ledger = tmp_path / "c.efuse", tmp_path / "l.sqlite"
    conn = ["--virt", "--chip", "esp32c3", "--efuse-file", efuse]
    scan = Scan()
    scan.cli("apply", recipe, *conn, "--no-ledger", "--yes")
    other = tmp_path / "other.yaml"  # wants other data in the same block: refused
    other.write_text(recipe.read_text().replace("name: s", "name: other").replace(
        "'{{ inputs.token | hex }}'", "'{{ inputs.token | hex }}'}\n  - burn_block_data: "
        "{block: BLOCK_USR_DATA, offset: 0, data: '" + "11" * 32 + "'"))
    scan.cli("apply", other, *conn, "--ledger", ledger, "--yes", code=3)
    assert scan.ledger(ledger) == 1
    scan.assert_clean(SECRET_DATA)


# -- messages -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "where,message",
    [
        ("ensure", "got {{ efuses.USER_DATA }}"),
        ("ensure", "{{ efuses.BLOCK_USR_DATA }}"),
        ("ensure", "{{ efuses.BLOCK_USR_DATA | upper }} / {{ efuses.USER_DATA | hex }}"),
        ("ensure", "{{ meaning('USER_DATA') }}"),
        ("ensure", "{{ efuses.BLOCK_KEY0 }}"),
        ("ensure", "{{ inputs.token | hex }} {{ inputs.token }}"),
        ("ensure", "{{ inputs.table['1'] }} {{ inputs.table['1'] | hex }} {{ inputs.table['1'] | upper }}"),
        ("require", "{{ efuses.BLOCK_KEY1 }}"),
    ],
)
def test_messages_never_print_secrets(tmp_path: Path, where: str, message: str) -> None:
    """`require`/`ensure` messages over secret inputs and eFuses that received secrets."""
    key = _key(7)
    (tmp_path / "key.bin").write_bytes(key)
    (tmp_path / "table.json").write_text('{"1": "' + _key(9).hex() + '"}')
    efuse = tmp_path / "c.efuse"
    _prefill(tmp_path, "esp32c3", efuse, [("BLOCK_KEY1", _key(11))])  # a key left unprotected
    recipe = _block_data_recipe(tmp_path, "BLOCK_USR_DATA", (
        "  - burn_key: {block: BLOCK_KEY0, purpose: HMAC_UP, file: key.bin, read_protect: false}\n"
        f"{where}:\n  - that: 'false'\n    message: \"{message}\"\n"))
    recipe.write_text(recipe.read_text().replace(
        "inputs:\n", "inputs:\n  table: {file: table.json, secret: true}\n"))
    scan = Scan()
    conn = ["--virt", "--chip", "esp32c3", "--efuse-file", efuse]
    text = scan.cli("plan", recipe, *conn, code=3)
    assert f"{where}:" in text
    scan.cli("plan", recipe, *conn, "--format", "json", code=3)
    scan.cli("apply", recipe, *conn, "--ledger", tmp_path / "l.sqlite", "--yes", code=3)
    scan.ledger(tmp_path / "l.sqlite")
    scan.assert_clean(SECRET_DATA, key, _key(9), _key(11))


def test_a_step_name_over_an_unprotected_key_does_not_print_it(tmp_path: Path) -> None:
    efuse = tmp_path / "c.efuse"
    _prefill(tmp_path, "esp32c3", efuse, [("BLOCK_KEY2", _key(5))])
    recipe = tmp_path / "n.yaml"
    recipe.write_text("fusebook: 1\nname: n\nchip: esp32c3\nsteps:\n"
                      "  - name: \"key {{ efuses.BLOCK_KEY2 }}\"\n    burn_efuse: {DIS_USB_JTAG: 1}\n")
    scan = Scan()
    scan.cli("plan", recipe, "--virt", "--chip", "esp32c3", "--efuse-file", efuse)
    scan.assert_clean(_key(5))


# -- every key purpose -------------------------------------------------------------------
def _purposes(chip: str) -> list[str]:
    c = load_chip(chip)
    fits = (1 << c.field(c.key_blocks[0].key_purpose_field or "").bits) if c.key_blocks else 1 << 8
    return [kp.name for kp in c.key_purposes if not kp.digest and kp.name != "RESERVED"
            and not kp.name.startswith("CUSTOM") and kp.value < fits
            and not (kp.value < 0 and kp.name.startswith("ECDSA") and fits <= 16)]


CASES = [(c, p) for c in ("esp32c3", "esp32s3", "esp32h2", "esp32p4", "esp32c5", "esp32c2")
         for p in _purposes(c)]
CASES += [("esp32", b) for b in ("flash_encryption", "secure_boot_v1", "secure_boot_v2", "BLOCK3")]


def _burn_in_process(tmp: Path, chip: str, step: str, scan: Scan, *, runs: int = 2) -> None:
    recipe = tmp / "k.yaml"
    recipe.write_text(f"fusebook: 1\nname: k\nchip: {chip}\nsteps:\n  - {step}\n")
    loaded = api.load_recipe(recipe)
    efuse, ledger_path = tmp / "c.efuse", tmp / "l.sqlite"
    for _ in range(runs):
        opts = api.ConnectOptions(virt=True, chip=chip, efuse_file=efuse)
        with api.connect(opts) as s, Ledger(ledger_path) as ledger:
            try:
                result = api.plan(loaded, s.read_image())
                scan.add("plan", repr(result.plan.to_json()))
                scan.add("saved plan", repr(api.saved_plan(loaded, result, "virt", {}, {})))
                api.apply(loaded, s, None, ledger=ledger)
            except FusebookError as e:
                scan.add("error", f"{e.message} {e.hint}")
                raise
    assert scan.ledger(ledger_path, cli=False) == runs


@pytest.mark.parametrize("chip,purpose", CASES)
def test_every_key_purpose_is_redacted_even_unprotected(tmp_path: Path, chip: str, purpose: str) -> None:
    """Each purpose burned with read protection off (the key stays readable on the chip)."""
    scan = Scan()
    if chip == "esp32":
        key = _key(3, 32)
        (tmp_path / "k.bin").write_bytes(key)
        step = f"burn_key: {{block: {purpose}, file: k.bin, read_protect: false, write_protect: false}}"
    else:
        split = purpose in ("XTS_AES_256_KEY", "ECDSA_KEY_P384")
        c = load_chip(chip)
        nbytes = 16 if purpose.endswith("FROM_128_EFUSE_BITS") else 64 if split else 32
        key = _key(c.key_purpose(purpose).value + 40, nbytes)
        (tmp_path / "k.bin").write_bytes(key)
        block = "BLOCK_KEY2" if not c.purposes_by_target else "BLOCK_KEY0"
        step = f"burn_key: {{block: {block}, purpose: {purpose}, file: k.bin, read_protect: false}}"
    _burn_in_process(tmp_path, chip, step, scan)
    scan.assert_clean(key, *(key[i : i + 16] for i in range(0, len(key), 16)))


def test_an_ecdsa_private_key_is_redacted(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    sk = ec.derive_private_key(int.from_bytes(_key(21), "big") % (2**255), ec.SECP256R1())
    pem = sk.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption())
    (tmp_path / "k.pem").write_bytes(pem)
    scan = Scan()
    _burn_in_process(tmp_path, "esp32p4",
                     "burn_key: {block: BLOCK_KEY3, purpose: ECDSA_KEY_P256, file: k.pem, read_protect: false}",
                     scan)
    scan.assert_clean(sk.private_numbers().private_value.to_bytes(32, "big"))


def test_secure_boot_digests_stay_visible(tmp_path: Path) -> None:
    """Public digests are not secrets: the ledger's after-token still shows them."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    sk = ec.derive_private_key(12345678901234567890, ec.SECP256R1())
    (tmp_path / "sb.pem").write_bytes(sk.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    recipe = tmp_path / "d.yaml"
    recipe.write_text("fusebook: 1\nname: d\nchip: esp32c6\nsteps:\n"
                      "  - burn_key_digest: {block: BLOCK_KEY1, purpose: SECURE_BOOT_DIGEST0, file: sb.pem}\n")
    loaded = api.load_recipe(recipe)
    with api.connect(api.ConnectOptions(virt=True, chip="esp32c6")) as s, \
            Ledger(tmp_path / "l.sqlite") as ledger:
        outcome = api.apply(loaded, s, None, ledger=ledger)
        record = ledger.get(outcome.record_id or 0)
    assert record is not None
    digest = outcome.after.block_bytes(load_chip("esp32c6").block("BLOCK_KEY1").id)
    assert any(digest)
    assert digest in token_blocks(str(record.to_json()["after_token"]).encode())
