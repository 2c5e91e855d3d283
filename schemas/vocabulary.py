"""The shared vocabulary of DESIGN.md §2: identifiers in English, labels in Bahasa Indonesia."""

from __future__ import annotations

from enum import StrEnum


class _Labelled(StrEnum):
    """A string enum whose members carry a Bahasa Indonesia label (and an English one)."""

    @property
    def label(self) -> str:
        return _SAME_VALUE_LABELS.get((type(self).__name__, self.value)) or _LABELS_ID[self]

    @property
    def label_en(self) -> str:
        return self.value.replace("_", " ")


class Unit(_Labelled):
    TAGANA = "tagana"
    TRC = "trc"
    PBI_JKN = "pbi_jkn"
    KARANG_TARUNA = "karang_taruna"
    PSM = "psm"


class Skill(_Labelled):
    WATER_RESCUE = "water_rescue"
    EVACUATION = "evacuation"
    PUBLIC_KITCHEN = "public_kitchen"
    LOGISTICS = "logistics"
    PSYCHOSOCIAL = "psychosocial"
    RAPID_ASSESSMENT = "rapid_assessment"
    FIRST_AID = "first_aid"
    SHELTER = "shelter"
    COMMAND_POST = "command_post"
    DRIVER = "driver"
    VICTIM_REGISTRATION = "victim_registration"
    SOCIAL_DATA = "social_data"
    BOAT_OPERATOR = "boat_operator"


class IncidentType(_Labelled):
    FLOOD = "flood"
    FLASH_FLOOD = "flash_flood"
    LANDSLIDE = "landslide"
    WHIRLWIND = "whirlwind"
    EXTREME_WEATHER = "extreme_weather"
    EARTHQUAKE = "earthquake"
    VOLCANIC_ERUPTION = "volcanic_eruption"
    FIRE = "fire"
    FOREST_FIRE = "forest_fire"
    DROUGHT = "drought"
    STRONG_WIND = "strong_wind"
    HOUSE_COLLAPSE = "house_collapse"
    ASH_FALL = "ash_fall"
    EVACUEE_RECEPTION = "evacuee_reception"
    SOCIAL_CONFLICT = "social_conflict"
    EPIDEMIC = "epidemic"
    # the social emergencies TRC handles, each with its own procedure; `social_emergency` stays
    # accepted for a case not (yet) told apart
    ODGJ = "odgj"
    STRANDED_PERSON = "stranded_person"
    HOMELESS_BEGGAR = "homeless_beggar"
    NEGLECTED_CHILD = "neglected_child"
    NEGLECTED_ELDERLY = "neglected_elderly"
    UNIDENTIFIED_BODY = "unidentified_body"
    SOCIAL_EMERGENCY = "social_emergency"
    OTHER = "other"

    @property
    def is_social_case(self) -> bool:
        """A person in need rather than a disaster: handled by TRC outreach, not a rapid assessment."""
        return self in _SOCIAL_CASES


class Severity(_Labelled):
    MINOR = "minor"
    MODERATE = "moderate"
    SEVERE = "severe"
    EXTREME = "extreme"


class IncidentStatus(_Labelled):
    REPORTED = "reported"
    DISPATCHING = "dispatching"
    STAFFED = "staffed"
    UNDERSTAFFED = "understaffed"
    CLOSED = "closed"
    CANCELLED = "cancelled"

    @property
    def is_open(self) -> bool:
        return self not in (IncidentStatus.CLOSED, IncidentStatus.CANCELLED)


class AssignmentStatus(_Labelled):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    RELEASED = "released"

    @property
    def is_active(self) -> bool:
        """The volunteer is held by this offer or assignment (rule 4)."""
        return self in _ACTIVE_ASSIGNMENT


class VolunteerStatus(_Labelled):
    AVAILABLE = "available"
    OFFERED = "offered"
    ASSIGNED = "assigned"
    OFF_DUTY = "off_duty"
    RESTING = "resting"


class ChannelType(_Labelled):
    WHATSAPP = "whatsapp"
    TELEGRAM = "telegram"
    SMS = "sms"
    EMAIL = "email"
    OUTBOX = "outbox"


class NotificationKind(_Labelled):
    OFFER = "offer"
    WITHDRAWAL = "withdrawal"
    CANCELLATION = "cancellation"
    STANDBY = "standby"
    UNDERSTAFFED = "understaffed"
    REPLY = "reply"
    """a short answer to a volunteer's own message (a button press, "SIAP"), text given by the sender"""


class Language(StrEnum):
    ID = "id"
    EN = "en"


_ACTIVE_ASSIGNMENT = frozenset(
    {
        AssignmentStatus.OFFERED,
        AssignmentStatus.ACCEPTED,
        AssignmentStatus.EN_ROUTE,
        AssignmentStatus.ON_SCENE,
    }
)

_SOCIAL_CASES = frozenset(
    {
        IncidentType.ODGJ,
        IncidentType.STRANDED_PERSON,
        IncidentType.HOMELESS_BEGGAR,
        IncidentType.NEGLECTED_CHILD,
        IncidentType.NEGLECTED_ELDERLY,
        IncidentType.UNIDENTIFIED_BODY,
        IncidentType.SOCIAL_EMERGENCY,
    }
)

_LABELS_ID: dict[StrEnum, str] = {
    Unit.TAGANA: "Tagana (Taruna Siaga Bencana)",
    Unit.TRC: "TRC (Tim Reaksi Cepat)",
    Unit.PBI_JKN: "Pendamping PBI-JKN",
    Unit.KARANG_TARUNA: "Karang Taruna",
    Unit.PSM: "PSM (Pekerja Sosial Masyarakat)",
    Skill.WATER_RESCUE: "Penyelamatan di air",
    Skill.EVACUATION: "Evakuasi",
    Skill.PUBLIC_KITCHEN: "Dapur umum",
    Skill.LOGISTICS: "Logistik",
    Skill.PSYCHOSOCIAL: "Dukungan psikososial",
    Skill.RAPID_ASSESSMENT: "Kaji cepat",
    Skill.FIRST_AID: "Pertolongan pertama",
    Skill.SHELTER: "Tempat pengungsian",
    Skill.COMMAND_POST: "Posko",
    Skill.DRIVER: "Pengemudi",
    Skill.VICTIM_REGISTRATION: "Pendataan korban",
    Skill.SOCIAL_DATA: "Cek DTKS / kepesertaan JKN",
    Skill.BOAT_OPERATOR: "Motoris perahu karet",
    IncidentType.FLOOD: "Banjir",
    IncidentType.FLASH_FLOOD: "Banjir bandang",
    IncidentType.LANDSLIDE: "Tanah longsor",
    IncidentType.WHIRLWIND: "Puting beliung",
    IncidentType.EXTREME_WEATHER: "Cuaca ekstrem",
    IncidentType.EARTHQUAKE: "Gempa bumi",
    IncidentType.VOLCANIC_ERUPTION: "Erupsi gunung api",
    IncidentType.FIRE: "Kebakaran",
    IncidentType.FOREST_FIRE: "Kebakaran hutan dan lahan",
    IncidentType.DROUGHT: "Kekeringan",
    IncidentType.STRONG_WIND: "Angin kencang / pohon tumbang",
    IncidentType.HOUSE_COLLAPSE: "Rumah roboh",
    IncidentType.ASH_FALL: "Hujan abu vulkanik",
    IncidentType.EVACUEE_RECEPTION: "Penerimaan pengungsi",
    IncidentType.SOCIAL_CONFLICT: "Konflik sosial",
    IncidentType.EPIDEMIC: "Wabah penyakit / KLB",
    IncidentType.ODGJ: "ODGJ terlantar",
    IncidentType.STRANDED_PERSON: "Orang terlantar / musafir",
    IncidentType.HOMELESS_BEGGAR: "Gelandangan dan pengemis",
    IncidentType.NEGLECTED_CHILD: "Anak terlantar",
    IncidentType.NEGLECTED_ELDERLY: "Lanjut usia terlantar",
    IncidentType.UNIDENTIFIED_BODY: "Jenazah tanpa identitas",
    IncidentType.SOCIAL_EMERGENCY: "Kedaruratan sosial lainnya",
    IncidentType.OTHER: "Lainnya",
    Severity.MINOR: "Ringan",
    Severity.MODERATE: "Sedang",
    Severity.SEVERE: "Berat",
    Severity.EXTREME: "Sangat berat",
    IncidentStatus.REPORTED: "Dilaporkan",
    IncidentStatus.DISPATCHING: "Sedang dikerahkan",
    IncidentStatus.STAFFED: "Personel lengkap",
    IncidentStatus.UNDERSTAFFED: "Kurang personel",
    IncidentStatus.CLOSED: "Selesai",
    IncidentStatus.CANCELLED: "Dibatalkan",
    AssignmentStatus.OFFERED: "Menunggu jawaban",
    AssignmentStatus.ACCEPTED: "Diterima",
    AssignmentStatus.DECLINED: "Ditolak",
    AssignmentStatus.EXPIRED: "Kedaluwarsa",
    AssignmentStatus.WITHDRAWN: "Ditarik",
    AssignmentStatus.EN_ROUTE: "Dalam perjalanan",
    AssignmentStatus.ON_SCENE: "Di lokasi",
    AssignmentStatus.RELEASED: "Selesai bertugas",
    VolunteerStatus.AVAILABLE: "Siaga",
    VolunteerStatus.OFFERED: "Sedang dipanggil",
    VolunteerStatus.ASSIGNED: "Sedang bertugas",
    VolunteerStatus.OFF_DUTY: "Tidak siaga",
    VolunteerStatus.RESTING: "Istirahat",
    ChannelType.WHATSAPP: "WhatsApp",
    ChannelType.TELEGRAM: "Telegram",
    ChannelType.SMS: "SMS",
    ChannelType.EMAIL: "Surel",
    ChannelType.OUTBOX: "Kotak keluar",
    NotificationKind.OFFER: "Panggilan tugas",
    NotificationKind.WITHDRAWAL: "Penarikan panggilan",
    NotificationKind.CANCELLATION: "Pembatalan kejadian",
    NotificationKind.STANDBY: "Pemberitahuan siaga",
    NotificationKind.UNDERSTAFFED: "Peringatan kurang personel",
    NotificationKind.REPLY: "Balasan pesan relawan",
}

# A StrEnum member hashes and compares as its string, so members of two enums with the same value
# (`offered`, `understaffed`) share one key above and the later label wins; these keep theirs.
_SAME_VALUE_LABELS: dict[tuple[str, str], str] = {
    ("AssignmentStatus", "offered"): "Menunggu jawaban",
    ("IncidentStatus", "understaffed"): "Kurang personel",
}
