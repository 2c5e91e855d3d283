"""What Sigap answers a volunteer who answered on a chat channel (issue 18): short, in Bahasa Indonesia
(English for `language: en`). The gateway answers what it can tell at once (a help text, a closed
offer); the dispatcher answers the outcome of an answer it decided (accepted, or filled already)."""

from __future__ import annotations

import re
from typing import Literal

from schemas.vocabulary import Language

ReplyCode = Literal[
    "accepted",
    "declined",
    "filled",
    "received",
    "help",
    "no_offer",
    "code_mismatch",
    "expired",
    "closed",
    "already_accepted",
    "already_declined",
    "forged",
]

_TEXTS: dict[str, tuple[str, str]] = {
    "accepted": ("Terima kasih, Anda tercatat berangkat.", "Thank you, you are recorded as going."),
    "declined": (
        "Terima kasih, jawaban TIDAK BISA Anda sudah dicatat.",
        "Thank you, your answer (can't go) is recorded.",
    ),
    "filled": ("Sudah terpenuhi, terima kasih.", "Already filled, thank you."),
    "received": ("Jawaban Anda diterima, sedang diproses…", "Your answer is received and being processed…"),
    "help": (
        "Balas SIAP untuk menerima atau TIDAK untuk menolak panggilan tugas, atau buka tautan di pesan "
        "panggilan.",
        "Reply SIAP to accept or TIDAK to decline the duty offer, or open the link in the offer message.",
    ),
    "no_offer": (
        "Tidak ada panggilan tugas yang menunggu jawaban Anda saat ini.",
        "There is no duty offer waiting for your answer right now.",
    ),
    "code_mismatch": (
        "Kode itu tidak cocok dengan panggilan Anda. Periksa kode di SMS panggilan.",
        "That code does not match your offer. Check the code in the offer SMS.",
    ),
    "expired": (
        "Waktu menjawab panggilan ini sudah habis; tugas ditawarkan ke relawan lain.",
        "The time to answer this offer is over; it was offered to another volunteer.",
    ),
    "closed": (
        "Kejadian ini sudah ditutup; panggilan tidak bisa dijawab lagi.",
        "This incident is closed; the offer can no longer be answered.",
    ),
    "already_accepted": (
        "Anda sudah tercatat berangkat untuk tugas ini.",
        "You are already recorded as going.",
    ),
    "already_declined": (
        "Anda sudah menolak panggilan ini. Terima kasih atas jawabannya.",
        "You already declined this offer. Thank you for answering.",
    ),
    "forged": (
        "Tombol ini tidak sah. Gunakan tautan di pesan panggilan.",
        "This button is not valid. Use the link in the offer message.",
    ),
}


def reply_text(code: ReplyCode, language: Language) -> str:
    indonesian, english = _TEXTS[code]
    return english if language == Language.EN else indonesian


ACCEPT_WORDS = frozenset({"SIAP", "YA", "YES", "READY"})
DECLINE_WORDS = frozenset({"TIDAK", "TDK", "NO"})
_TOKENS = re.compile(r"[A-Z]+|\d+")
MAX_ANSWER_TEXT = 60


def parse_answer_text(text: str) -> tuple[Literal["accept", "decline"], str | None] | None:
    """ "SIAP", "ya", "Tidak bisa", "SIAP 1234", "tidak 1234." → the answer and its code (None: none
    given); anything else → None (the sender gets the help text)."""
    if len(text) > MAX_ANSWER_TEXT:
        return None
    tokens = _TOKENS.findall(text.upper())
    words = [t for t in tokens if t.isalpha()]
    numbers = [t for t in tokens if t.isdigit()]
    if not words or len(numbers) > 1 or any(len(n) != 4 for n in numbers):
        return None
    code = numbers[0] if numbers else None
    if all(w in ACCEPT_WORDS for w in words):
        return "accept", code
    if words[0] in DECLINE_WORDS and all(w in DECLINE_WORDS or w == "BISA" for w in words):
        return "decline", code
    return None
