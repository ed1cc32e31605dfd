"""Resident ID numbers (GB 11643) and phone numbers: check, protect, mask.

ID numbers are sensitive personal information (PIPL art. 28). They are stored
encrypted (Fernet: AES-128-CBC + HMAC) and found through a keyed hash (HMAC-SHA256),
so the database alone reveals nothing and an equality lookup needs no decryption.
Both keys are derived from ``ID_NUMBER_KEY``; during a rotation the old keys in
``ID_NUMBER_OLD_KEYS`` can still decrypt (see docs/operations.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")
_PHONE_RE = re.compile(r"^1[3-9]\d{9}$")


class IdNumberError(ValueError):
    pass


@dataclass(frozen=True)
class IdNumber:
    value: str
    birth_on: date
    sex: str  # "male" | "female"


def check_char(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=False)) % 11]


def parse_id_number(raw: str) -> IdNumber:
    """Validate an 18-character ID number and read its birth date and sex."""
    value = (raw or "").strip().upper()
    if not _ID_RE.match(value):
        raise IdNumberError("must be 17 digits followed by a digit or X")
    if check_char(value[:17]) != value[17]:
        raise IdNumberError("checksum does not match (GB 11643 MOD 11-2)")
    try:
        birth_on = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise IdNumberError("birth date part is not a real date") from None
    if birth_on.year < 1880:
        raise IdNumberError("birth date part is not plausible")
    sex = "male" if int(value[16]) % 2 == 1 else "female"
    return IdNumber(value=value, birth_on=birth_on, sex=sex)


def make_id_number(area: str, birth_on: date, sequence: int) -> str:
    """Build a valid number (demo data and tests)."""
    first17 = f"{area}{birth_on:%Y%m%d}{sequence:03d}"
    return first17 + check_char(first17)


def is_valid_phone(raw: str) -> bool:
    return bool(_PHONE_RE.match(raw or ""))


ID_MASK_KEEP = 6  # the area code: shared by every resident of an institution, so it reveals nothing


def mask_id_number(value: str | None) -> str | None:
    """``371002195008011071`` -> ``371002************``: the area code, nothing else.

    Responses that carry the masked number also carry the birth date and sex, which are
    digits 7-14 and the parity of digit 17. Showing any of digits 15-18 (the sequence and
    the check character) would leave a handful of candidates, and the usual "last four"
    exactly one. Every masked ID number in the API goes through this function.
    """
    if not value:
        return value
    keep = ID_MASK_KEEP if len(value) >= 15 else 0
    return value[:keep] + "*" * (len(value) - keep)


def mask_phone(value: str | None) -> str | None:
    if not value or len(value) < 7:
        return value
    return value[:3] + "****" + value[-4:]


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"family-doctor/id-number", info=purpose).derive(
        secret.encode()
    )


class IdNumberVault:
    """Encrypts, decrypts and hashes ID numbers with keys from configuration."""

    def __init__(self, key: str, old_keys: list[str] | None = None):
        keys = [key, *(old_keys or [])]
        self._fernet = MultiFernet([Fernet(base64.urlsafe_b64encode(_derive(k, b"encrypt"))) for k in keys])
        self._hash_key = _derive(key, b"lookup-hash")
        self._old_hash_keys = [_derive(k, b"lookup-hash") for k in old_keys or []]

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, token: str | None) -> str | None:
        """The number; None for an archive without one (a newborn's before the household registration)."""
        if token is None:
            return None
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise IdNumberError("cannot decrypt: ID_NUMBER_KEY does not match the data") from None

    def rotate(self, token: str) -> str:
        """Re-encrypt under the current key (used by the key-rotation command)."""
        return self._fernet.rotate(token.encode()).decode()

    def lookup_hash(self, value: str) -> str:
        """The hash stored with the row (always under the current key)."""
        return hmac.new(self._hash_key, value.upper().encode(), hashlib.sha256).hexdigest()

    def lookup_hashes(self, value: str) -> list[str]:
        """Every hash the row may still carry during a key rotation (current key first)."""
        return [self.lookup_hash(value)] + [
            hmac.new(key, value.upper().encode(), hashlib.sha256).hexdigest() for key in self._old_hash_keys
        ]

    @property
    def rotating(self) -> bool:
        return bool(self._old_hash_keys)


def vault() -> IdNumberVault:
    ext = current_app.extensions
    if "id_vault" not in ext:
        cfg = current_app.config
        ext["id_vault"] = IdNumberVault(cfg["ID_NUMBER_KEY"], cfg.get("ID_NUMBER_OLD_KEYS"))
    return ext["id_vault"]
