"""The rendered messages state the facts a volunteer (or coordinator) needs, in both languages, and
fit the channel: chat-sized, and within the SMS part budget."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.reference import map_link
from schemas.vocabulary import ChannelType, Language
from services.notifier import smstext
from services.notifier.templates import Rendered, render, wib_date_time, wib_time
from tests.unit.notifier.samples import LINK, request

KINDS = ("offer", "withdrawal", "cancellation", "standby", "understaffed")
# 19:15 UTC is 02:15 the next morning in Kediri (WIB, UTC+7)
DEADLINE = datetime(2026, 3, 1, 19, 15, tzinfo=UTC)
ALERT_EXPIRES = datetime(2026, 3, 1, 11, 0, tzinfo=UTC)


def rendered(kind: str, language: str, **kw: object) -> Rendered:
    extra: dict[str, object] = {}
    if kind == "withdrawal":
        extra["reason"] = "reassigned"
    if kind == "standby":
        extra.update(
            alert_headline="Hujan lebat disertai petir dan angin kencang", alert_expires=ALERT_EXPIRES
        )
    if kind == "understaffed":
        extra["open_slots"] = 3
    extra.update(kw)
    return render(request(kind=kind, language=language, deadline=DEADLINE, **extra))


@pytest.mark.parametrize("language", ["id", "en"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_message_says_where(kind: str, language: str) -> None:
    r = rendered(kind, language)
    for text in (r.text, r.email, r.sms):
        assert "Kel. Ngronggo" in text
        assert "Kec. Kota" in text
    assert r.slots[1] == "Kel. Ngronggo, Kec. Kota"
    assert r.text.startswith("[SIGAP] ")
    assert len(r.text) < 1000  # chat-sized


@pytest.mark.parametrize("language", ["id", "en"])
def test_offer_states_what_role_deadline_and_link(language: str) -> None:
    r = rendered("offer", language)
    what = (
        "Banjir (Berat): Luapan Sungai Brantas"
        if language == "id"
        else "Flood (severe): Luapan Sungai Brantas"
    )
    role = "Tagana - Penyelamatan di air" if language == "id" else "Tagana - Water rescue"
    until = (
        "Jawab lewat tautan ini sebelum pukul 02.15 WIB"
        if language == "id"
        else "Answer through this link before 02:15 WIB"
    )
    for text in (r.text, r.email):
        assert what in text
        assert role in text
        assert until in text
        assert LINK in text
        assert map_link(-7.8431, 112.0185) in text
    assert what in r.sms and until in r.sms and LINK in r.sms
    assert r.button == ("Terima / Tolak" if language == "id" else "Accept / Decline")
    assert r.response_url == LINK
    assert r.slots == (
        ("PANGGILAN TUGAS - " if language == "id" else "CALL-OUT - ") + what,
        "Kel. Ngronggo, Kec. Kota",
        ("Peran: " if language == "id" else "Role: ") + role,
        until,
        LINK,
    )


def test_offer_in_indonesian_reads_naturally() -> None:
    assert rendered("offer", "id").text == (
        "[SIGAP] PANGGILAN TUGAS\n"
        "Banjir (Berat): Luapan Sungai Brantas\n"
        "Lokasi: Kel. Ngronggo, Kec. Kota\n"
        f"Peta: {map_link(-7.8431, 112.0185)}\n"
        "Peran: Tagana - Penyelamatan di air\n"
        "Jawab lewat tautan ini sebelum pukul 02.15 WIB:\n"
        f"{LINK}"
    )


@pytest.mark.parametrize(
    ("language", "reason", "said"),
    [
        ("id", "reassigned", "ditarik: tempat sudah terisi."),
        ("id", "cancelled", "ditarik: kejadian dibatalkan."),
        ("en", "closed", "was withdrawn: the incident was closed."),
        ("id", "Banjir sudah surut", "ditarik: Banjir sudah surut."),
    ],
)
def test_withdrawal_says_why_and_that_no_one_needs_to_go(language: str, reason: str, said: str) -> None:
    r = rendered("withdrawal", language, reason=reason)
    assert said in r.text
    assert ("tidak perlu berangkat" if language == "id" else "do not need to go") in r.text
    assert "Banjir (Berat)" in r.text or "Flood (severe)" in r.text
    assert r.button is None


@pytest.mark.parametrize("language", ["id", "en"])
def test_cancellation_names_the_duty_and_what_to_do(language: str) -> None:
    r = rendered("cancellation", language, reason="laporan palsu")
    if language == "id":
        assert "Tugas Anda (Tagana - Penyelamatan di air) dibatalkan: laporan palsu." in r.text
        assert "kembali dan lapor ke posko" in r.text
    else:
        assert "Your duty (Tagana - Water rescue) is cancelled: laporan palsu." in r.text
        assert "report to the command post" in r.text


@pytest.mark.parametrize("language", ["id", "en"])
def test_standby_notice_says_until_when_and_that_there_is_no_duty_yet(language: str) -> None:
    r = rendered("standby", language)
    assert "Hujan lebat disertai petir dan angin kencang" in r.text
    # 11:00 UTC is 18:00 WIB the same day; the date is given because alerts last hours or days
    assert (
        "Berlaku s.d. 1 Mar pukul 18.00 WIB" if language == "id" else "Valid until 1 Mar 18:00 WIB"
    ) in r.text
    for shape in (r.text, r.sms, r.email):
        assert "Sumber: BMKG" in shape  # BMKG's required attribution, in every shape
    assert ("Belum ada penugasan" if language == "id" else "No duty yet") in r.text
    assert r.subject.startswith(
        "[SIGAP] Pemberitahuan siaga" if language == "id" else "[SIGAP] Standby notice"
    )


@pytest.mark.parametrize("language", ["id", "en"])
def test_understaffed_alert_tells_coordinators_how_many_and_which_role(language: str) -> None:
    r = rendered("understaffed", language)
    expected = (
        "Masih kurang 3 orang: Tagana - Penyelamatan di air"
        if language == "id"
        else "Still 3 short: Tagana - Water rescue"
    )
    assert expected in r.text
    assert LINK in r.text
    assert r.text.splitlines()[0] == (
        "[SIGAP] KURANG PERSONEL" if language == "id" else "[SIGAP] UNDERSTAFFED"
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("max_parts", [1, 2, 3])
def test_sms_fits_its_part_budget_and_keeps_the_link_whole(kind: str, max_parts: int) -> None:
    req = request(kind=kind, deadline=DEADLINE, response_url="https://sigap.example/r/abc123")
    r = render(req, sms_max_parts=max_parts)
    assert smstext.segments(r.sms) <= max_parts
    if kind in ("offer", "standby", "understaffed"):
        assert "https://sigap.example/r/abc123" in r.sms
    if kind == "offer":
        assert "02.15 WIB" in r.sms
    assert "openstreetmap" not in r.sms  # the map costs a whole part; the response page shows it


def test_sms_with_a_real_length_link_keeps_the_essentials_within_three_parts() -> None:
    long_link = "https://sigap.kedirikota.go.id/r/" + "A" * 180
    r = render(request(deadline=DEADLINE, response_url=long_link), sms_max_parts=3)
    assert long_link in r.sms
    assert "02.15 WIB" in r.sms
    assert smstext.segments(r.sms) <= 3
    assert smstext.encoding_of(r.sms) == "gsm7"


def test_sms_drops_optional_lines_before_essential_ones() -> None:
    r = render(request(deadline=DEADLINE, response_url="https://s.example/r/x"), sms_max_parts=1)
    assert smstext.segments(r.sms) == 1
    assert "02.15 WIB" in r.sms
    assert "https://s.example/r/x" in r.sms
    assert "Banjir (Berat)" in r.sms


def test_typographic_characters_do_not_push_an_sms_into_ucs2() -> None:
    r = render(request(deadline=DEADLINE, title="Banjir \u2014 \u201cRT 02\u201d"), sms_max_parts=3)
    assert smstext.encoding_of(r.sms) == "gsm7"
    assert 'Banjir - "RT 02"' in r.sms


def test_text_in_a_non_latin_script_is_counted_as_ucs2() -> None:
    r = render(request(deadline=DEADLINE, title="洪水 Brantas"), sms_max_parts=3)
    assert smstext.encoding_of(r.sms) == "ucs2"
    assert smstext.segments(r.sms) <= 3


def test_missing_place_is_left_out_rather_than_invented() -> None:
    r = render(request(kelurahan_code=None, location=None, deadline=DEADLINE))
    assert "Lokasi" not in r.text and "Peta" not in r.text
    assert r.slots[1] == "-"


def test_location_without_kelurahan_uses_the_nearest_kelurahan() -> None:
    r = render(request(kelurahan_code=None, deadline=DEADLINE))
    assert "Kel. Ngronggo, Kec. Kota" in r.text


def test_for_channel_picks_the_right_shape() -> None:
    r = rendered("offer", "id")
    assert r.for_channel(ChannelType.SMS) == r.sms
    assert r.for_channel(ChannelType.EMAIL) == r.email
    assert r.for_channel(ChannelType.WHATSAPP) == r.text
    assert r.for_channel(ChannelType.OUTBOX) == r.text
    assert r.email.endswith("Pesan otomatis SIGAP, Dinas Sosial Kota Kediri.\n")


def test_wib_formatting() -> None:
    assert wib_time(DEADLINE, Language.ID) == "pukul 02.15 WIB"
    assert wib_time(DEADLINE, Language.EN) == "02:15 WIB"
    assert wib_date_time(DEADLINE, Language.ID) == "2 Mar pukul 02.15 WIB"
    assert wib_date_time(datetime(2026, 8, 17, 3, 0, tzinfo=UTC), Language.ID) == "17 Agu pukul 10.00 WIB"


def test_an_offer_without_a_deadline_or_link_still_renders() -> None:
    r = render(request(deadline=None, deadline_in_s=None, response_url=None))
    assert "Jawab lewat tautan" not in r.text
    assert r.button is None
    assert r.slots[3] == "-" and r.slots[4] == "-"


@pytest.mark.parametrize("language", ["id", "en"])
def test_closing_an_incident_thanks_the_volunteer_instead_of_cancelling(language: str) -> None:
    r = rendered("cancellation", language, reason="closed", extra={"incident_status": "closed"})
    if language == "id":
        assert "Tugas Anda (Tagana - Penyelamatan di air) selesai: kejadian ditutup." in r.text
        assert "Terima kasih" in r.text
        assert "dibatalkan" not in r.text
    else:
        assert "Your duty (Tagana - Water rescue) is over: the incident is closed." in r.text
        assert "cancelled" not in r.text
    assert ": closed." not in r.text


def test_the_dispatchers_default_reason_is_not_shown_raw() -> None:
    r = rendered("cancellation", "id", reason="cancelled", extra={"incident_status": "cancelled"})
    assert "Tugas Anda (Tagana - Penyelamatan di air) dibatalkan." in r.text
