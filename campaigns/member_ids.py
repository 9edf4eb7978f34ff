"""Member ids in the campaign store, encrypted column by column under the data key.

Why the column and not the whole store: PostgreSQL is a server the product does not own (its files,
backups and replicas are the database's), and SQLite has no encryption of its own (SQLCipher would
be another build of it). Encrypting the column works the same on both. Why only the member id:
the other columns of a member row (arm, score, decile, stage, tier, cost) describe nobody once the
id is unreadable, and the database must still read ``arm`` (its CHECK constraint; counts per arm).

The encryption is deterministic (AES-SIV, RFC 5297), so a member is still in a campaign once (the
primary key compares the stored text), with the campaign id as associated data: the same member
gets a different stored id in every campaign, so rows cannot be linked across campaigns without
the key. A stored id is ``PREFIX`` + URL-safe base64 without padding; a row without the prefix is
plain (written before a key was configured) and is read as it is.
"""

from __future__ import annotations

import base64
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from features.data_key import DataKey, DataKeyNeeded, WrongDataKey, missing_key_message, wrong_key_message

PREFIX: Final = "e1."
PURPOSE: Final = "campaign-member-id"
STORED_CHARS: Final = 200  # campaigns.schema: campaign_members.member_id is String(200)
SIV_TAG_BYTES: Final = 16
# the longest id (in UTF-8 bytes) whose encrypted form still fits the column
MAX_ID_BYTES: Final = (STORED_CHARS - len(PREFIX)) * 3 // 4 - SIV_TAG_BYTES
WHAT: Final = "a member id in the campaign store"


class MemberIdCipher:
    """Hides and reveals member ids of one campaign store; with no key, ids pass through unchanged."""

    def __init__(self, key: DataKey | None) -> None:
        self._siv = AESSIV(key.derived(PURPOSE, 64)) if key is not None else None

    @property
    def encrypts(self) -> bool:
        return self._siv is not None

    def hide(self, campaign_id: str, member_id: str) -> str:
        """The id as stored: encrypted when there is a key (ValueError when too long to fit)."""
        if self._siv is None:
            return member_id
        plain = member_id.encode("utf-8")
        if len(plain) > MAX_ID_BYTES:
            raise ValueError(f"members.member_id: {len(plain)} bytes; an encrypted id holds at most {MAX_ID_BYTES}")
        sealed = self._siv.encrypt(plain, [campaign_id.encode()])
        return PREFIX + base64.urlsafe_b64encode(sealed).decode("ascii").rstrip("=")

    def reveal(self, campaign_id: str, stored: str) -> str:
        """The member id behind a stored one; a plain stored id is returned as it is."""
        if not stored.startswith(PREFIX):
            return stored
        if self._siv is None:
            raise DataKeyNeeded(missing_key_message(WHAT))
        text = stored.removeprefix(PREFIX)
        try:
            return self._siv.decrypt(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)),
                                     [campaign_id.encode()]).decode("utf-8")
        except (InvalidTag, ValueError):
            raise WrongDataKey(wrong_key_message(WHAT)) from None
