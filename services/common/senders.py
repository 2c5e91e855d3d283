"""Who a chat address belongs to: the index that lets a volunteer answer an offer by writing back.

When the notifier hands a volunteer's message to WhatsApp, Telegram or SMS, it records the address it
used (`{prefix}sender:{channel}:{address}`, a JSON `{volunteer_id, offer_id, language}` kept
`SENDER_TTL_S`), so a reply from that address ("SIAP", "TIDAK 1234") names the volunteer — and the last
offer they were sent there, for a late answer. The notifier owns these keys; the gateway only reads
them. Every fact in it is derivable from the `notifications` and `deliveries` topics.

Addresses are compared in one form: phone numbers as digits in international form (`0812…`,
`+62812…` and `62812…` are one number), Telegram chat ids as given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from schemas.vocabulary import ChannelType, Language

SENDER_TTL_S = 7 * 24 * 3600
PHONE_CHANNELS = frozenset({ChannelType.WHATSAPP, ChannelType.SMS})
ANSWER_CHANNELS = frozenset({ChannelType.WHATSAPP, ChannelType.TELEGRAM, ChannelType.SMS})


def phone_digits(number: str) -> str:
    """`+62 812-3456-7890`, `0812 3456 7890` and `6281234567890` all → `6281234567890`."""
    digits = "".join(c for c in number if c.isdigit())
    if digits.startswith("0"):
        digits = "62" + digits[1:]
    return digits


def address_key(channel: ChannelType, address: str) -> str:
    return phone_digits(address) if channel in PHONE_CHANNELS else address.strip()


def sender_key(prefix: str, channel: ChannelType, address: str) -> str:
    return f"{prefix}sender:{channel.value}:{address_key(channel, address)}"


@dataclass(frozen=True, slots=True)
class Sender:
    volunteer_id: str
    offer_id: str | None = None
    language: Language = Language.ID

    def dump(self) -> str:
        return json.dumps(
            {"volunteer_id": self.volunteer_id, "offer_id": self.offer_id, "language": self.language.value},
            separators=(",", ":"),
        )

    @classmethod
    def load(cls, raw: str | bytes) -> Sender | None:
        try:
            data = json.loads(raw)
            return cls(str(data["volunteer_id"]), data.get("offer_id"), Language(data.get("language", "id")))
        except (ValueError, KeyError, TypeError):
            return None
