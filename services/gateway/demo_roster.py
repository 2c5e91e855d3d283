"""The demo roster `make up` loads: the ~130 IPSM participants of Kota Kediri across the four elements
— TRC, Tagana, pendamping PBI-JKN, Karang Taruna — and PSM. Some hold two units, as IPSM members do
(a Karang Taruna member who is also Tagana, a PSM who is also a PBI-JKN companion).

Deterministic: the same ids (`V-001`…), names, skills, homes and channels on every run (a seeded
generator), so loading it twice writes the same keys on the compacted `volunteers` topic.
Certification expiry dates are relative to the day of loading, so the demo keeps working: most are
valid, about one in eight has lapsed (the dispatcher must skip those for water rescue and first aid).

The people are fictional. Phone numbers are in the +62 800 (toll-free) range, which no mobile phone
has, and e-mail addresses use the reserved `.example` domain: never point real providers at them.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from schemas import reference
from schemas.events import Certification, ChannelAddress, VolunteerProfile
from schemas.fields import GeoPoint
from schemas.vocabulary import ChannelType, Skill, Unit

SIZE = 130
TRC_EVERY = 5  # every 5th volunteer is TRC: 26 of 130
# the other 104, by element (shuffled with the seed): Tagana, PBI-JKN, Karang Taruna, PSM
OTHER_UNITS = ((Unit.TAGANA, 48), (Unit.PBI_JKN, 20), (Unit.KARANG_TARUNA, 24), (Unit.PSM, 12))
SECOND_UNIT = {
    Unit.KARANG_TARUNA: (Unit.TAGANA, 0.25),
    Unit.PSM: (Unit.PBI_JKN, 0.35),
    Unit.TRC: (Unit.TAGANA, 0.2),
}
SEED = 20261128
ON_DUTY_SHARE = 0.7
EXPIRED_CERT_SHARE = 0.12
CERTIFIED_SKILLS = frozenset({Skill.WATER_RESCUE, Skill.FIRST_AID})

_MEN = (
    "Agus",
    "Bambang",
    "Budi",
    "Dedi",
    "Eko",
    "Fajar",
    "Hendra",
    "Imam",
    "Joko",
    "Kurniawan",
    "Mochamad",
    "Nur",
    "Rizky",
    "Slamet",
    "Teguh",
    "Wahyu",
    "Yusuf",
    "Arif",
    "Bayu",
    "Dimas",
    "Galih",
    "Hadi",
    "Ilham",
    "Krisna",
    "Rudi",
    "Sigit",
    "Taufik",
    "Yoga",
    "Andik",
    "Didik",
    "Heru",
    "Sutrisno",
)
_WOMEN = (
    "Ani",
    "Dewi",
    "Endang",
    "Fitri",
    "Indah",
    "Lestari",
    "Nanik",
    "Puji",
    "Rina",
    "Siti",
    "Sri",
    "Tri",
    "Wulan",
    "Yuli",
    "Ayu",
    "Dian",
    "Eka",
    "Novi",
    "Ratna",
    "Umi",
    "Lilik",
    "Anik",
)
_FAMILY = (
    "Santoso",
    "Wibowo",
    "Prasetyo",
    "Susanto",
    "Hidayat",
    "Setiawan",
    "Purnomo",
    "Saputra",
    "Kurniawati",
    "Wijayanti",
    "Rahayu",
    "Handayani",
    "Nugroho",
    "Suryani",
    "Hartono",
    "Mulyadi",
    "Riyanto",
    "Utomo",
    "Maulana",
    "Firmansyah",
    "Anggraini",
    "Pratiwi",
    "Haryanto",
    "Suprapto",
    "Wahyuni",
    "Susilo",
)

# Skills drawn for Tagana (weighted: a flood needs water rescue, evacuation and a public kitchen).
_TAGANA_SKILLS = (
    (Skill.EVACUATION, 5),
    (Skill.WATER_RESCUE, 4),
    (Skill.PUBLIC_KITCHEN, 4),
    (Skill.LOGISTICS, 3),
    (Skill.SHELTER, 3),
    (Skill.FIRST_AID, 3),
    (Skill.COMMAND_POST, 2),
    (Skill.PSYCHOSOCIAL, 2),
    (Skill.DRIVER, 2),
    (Skill.BOAT_OPERATOR, 2),
)
_TRC_EXTRA = ((Skill.FIRST_AID, 0.6), (Skill.PSYCHOSOCIAL, 0.45), (Skill.DRIVER, 0.4))
# (skill, chance) for the other elements: what their members do in a response
_DRAWN = {
    Unit.PBI_JKN: ((Skill.VICTIM_REGISTRATION, 0.95), (Skill.SOCIAL_DATA, 0.8), (Skill.PSYCHOSOCIAL, 0.15)),
    Unit.KARANG_TARUNA: (
        (Skill.PUBLIC_KITCHEN, 0.7),
        (Skill.LOGISTICS, 0.6),
        (Skill.EVACUATION, 0.3),
        (Skill.DRIVER, 0.2),
    ),
    Unit.PSM: ((Skill.PUBLIC_KITCHEN, 0.7), (Skill.PSYCHOSOCIAL, 0.6), (Skill.VICTIM_REGISTRATION, 0.3)),
}


def _name(rnd: random.Random) -> tuple[str, str]:
    first = rnd.choice(_MEN if rnd.random() < 0.68 else _WOMEN)
    return first, rnd.choice(_FAMILY)


def _skills(rnd: random.Random, unit: Unit) -> list[Skill]:
    if unit == Unit.TRC:
        return [Skill.RAPID_ASSESSMENT, *(s for s, p in _TRC_EXTRA if rnd.random() < p)]
    if unit in _DRAWN:
        drawn = [s for s, p in _DRAWN[unit] if rnd.random() < p]
        return drawn or [_DRAWN[unit][0][0]]
    population = [s for s, _ in _TAGANA_SKILLS]
    weights = [w for _, w in _TAGANA_SKILLS]
    wanted = rnd.choice((2, 2, 3, 3, 4))
    chosen: list[Skill] = []
    while len(chosen) < wanted:
        skill = rnd.choices(population, weights)[0]
        if skill not in chosen:
            chosen.append(skill)
    return chosen


def _channels(
    rnd: random.Random, ident: str, phone: str, name: tuple[str, str], n: int
) -> list[ChannelAddress]:
    handle = f"{name[0]}.{name[1]}".lower()
    style = n % 4
    if style == 0:
        picks = [(ChannelType.WHATSAPP, phone), (ChannelType.SMS, phone)]
    elif style == 1:
        picks = [(ChannelType.TELEGRAM, f"@{handle.replace('.', '_')}{n}"), (ChannelType.WHATSAPP, phone)]
    elif style == 2:
        picks = [(ChannelType.WHATSAPP, phone), (ChannelType.EMAIL, f"{handle}{n}@relawan.example")]
    else:
        picks = [(ChannelType.SMS, phone), (ChannelType.EMAIL, f"{handle}{n}@relawan.example")]
    if rnd.random() < 0.15:
        picks.reverse()
    picks.append((ChannelType.OUTBOX, ident))
    return [ChannelAddress(type=t, address=a) for t, a in picks]


def profiles(today: date) -> list[VolunteerProfile]:
    """The demo roster as of `today` (only certification dates depend on it)."""
    rnd = random.Random(SEED)  # noqa: S311 - demo data, not security
    kelurahan = sorted(reference.all_kelurahan().values(), key=lambda k: k.code)
    others = [unit for unit, count in OTHER_UNITS for _ in range(count)]
    random.Random(SEED + 1).shuffle(others)  # noqa: S311 - demo data, not security
    roster = []
    for n in range(1, SIZE + 1):
        ident = f"V-{n:03d}"
        unit = Unit.TRC if n % TRC_EVERY == 0 else others.pop()
        home = kelurahan[(n * 7) % len(kelurahan)]  # a stride coprime with 46 spreads every kelurahan
        first, family = _name(rnd)
        phone = f"+62800{1000000 + n * 7919 % 9000000:07d}"
        skills = _skills(rnd, unit)
        units = [unit]
        second, chance = SECOND_UNIT.get(unit, (None, 0.0))
        if second is not None and rnd.random() < chance:
            units.append(second)
            skills += [s for s in _skills(rnd, second) if s not in skills][:2]
        certifications = []
        for skill in skills:
            if skill in CERTIFIED_SKILLS:
                lapsed = rnd.random() < EXPIRED_CERT_SHARE
                days = -rnd.randint(10, 200) if lapsed else rnd.randint(60, 900)
                certifications.append(Certification(skill=skill, expires_on=today + timedelta(days=days)))
        location = GeoPoint(
            lat=round(home.lat + rnd.uniform(-0.0055, 0.0055), 6),
            lon=round(home.lon + rnd.uniform(-0.0055, 0.0055), 6),
        )
        roster.append(
            VolunteerProfile(
                volunteer_id=ident,
                name=f"{first} {family}",
                phone=phone,
                unit=units[0],
                units=units,
                nia=f"DEMO-3571-{n:04d}" if Unit.TAGANA in units else None,
                skills=skills,
                certifications=certifications,
                home_kelurahan_code=home.code,
                location=location,
                channels=_channels(rnd, ident, phone, (first, family), n),
                on_duty=rnd.random() < ON_DUTY_SHARE,
            )
        )
    return roster
