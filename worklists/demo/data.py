"""The fictional service itself: sites, worklists, classification rules, radiologists, names.

Pure data, no database access; the other modules of this package turn it into rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from worklists.models import Priority, Site

DEMO_PASSWORD = "demo"  # noqa: S105 (the documented demo password, for fictional users)
DEFAULT_STUDY_COUNT = 400
SEED = 20261126
COORDINATOR_USERNAME = "coordinator"


# --- Sites -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SiteSpec:
    code: str
    name: str
    kind: str
    # Turnaround in minutes per priority: STAT, URGENT, CANCER_PATHWAY, ROUTINE.
    turnaround: tuple[int, int, int, int]

    @property
    def facility(self) -> str:
        return self.code.upper()


PUBLIC = Site.Kind.PUBLIC_HOSPITAL
PRIVATE = Site.Kind.PRIVATE_INSTITUTE
DAY = 24 * 60

SITES: tuple[SiteSpec, ...] = (
    SiteSpec("fjordheim", "Fjordheim sjukehus", PUBLIC, (60, 240, 2 * DAY, 5 * DAY)),
    SiteSpec("havbakken", "Havbakken sykehus", PUBLIC, (60, 300, 2 * DAY, 7 * DAY)),
    SiteSpec("elvedal", "Elvedal sjukehus", PUBLIC, (45, 240, 2 * DAY, 6 * DAY)),
    SiteSpec("nordskjaer", "Nordskjær sykehus", PUBLIC, (60, 360, 2 * DAY, 7 * DAY)),
    SiteSpec("vidda", "Viddaheim sykehus", PUBLIC, (60, 360, 3 * DAY, 10 * DAY)),
    SiteSpec("solvberg", "Sølvberg Røntgeninstitutt", PRIVATE, (60, 240, 2 * DAY, 4 * DAY)),
    SiteSpec("lysvika", "Lysvika Bildediagnostikk", PRIVATE, (90, 360, 2 * DAY, 5 * DAY)),
)
PRIORITY_ORDER: tuple[str, ...] = (
    Priority.STAT,
    Priority.URGENT,
    Priority.CANCER_PATHWAY,
    Priority.ROUTINE,
)


# --- Subspecialties and classification ---------------------------------------------------------

SUBSPECIALTIES: tuple[tuple[str, str, int], ...] = (
    ("neuro", "Nevroradiologi", 10),
    ("msk", "Muskel og skjelett", 20),
    ("thorax", "Thoraxradiologi", 30),
    ("cardiac", "Hjerteradiologi", 35),
    ("abdomen", "Abdominalradiologi", 40),
    ("mamma", "Mammaradiologi", 50),
    ("paediatric", "Barneradiologi", 60),
    ("emergency", "Akuttradiologi", 70),
    ("nuclear", "Nukleærmedisin", 80),
)

_NEURO = r"caput|cerebr|hjerne|hypofyse|orbita|bihule|columna"
_MSK = r"\b(kne|skulder|hofte|ankel|håndledd|hånd|albue|fot|finger|lår|legg|clavicula|scaphoid)"
_ABDOMEN = r"abdomen|bekken|lever|nyre|urinveier|galle|pankreas|prostata|rektum|mrcp"


@dataclass(frozen=True, slots=True)
class RuleSpec:
    name: str
    worklist: str
    work_units: str
    modality: str = ""
    description_pattern: str = ""
    max_age_years: int | None = None


# First match wins, so the narrow rules (children, breast, nuclear, trauma) come before the broad
# anatomical ones. Some procedures (thyroid and vein ultrasound, spine radiographs, aortic CT
# angiography, whole-body MR) deliberately match nothing, so the demo shows unclassified studies
# landing in the general worklist.
RULES: tuple[RuleSpec, ...] = (
    RuleSpec("Barn under 16 år: CT", "paediatric", "1.50", "CT", max_age_years=15),
    RuleSpec("Barn under 16 år: MR", "paediatric", "2.00", "MR", max_age_years=15),
    RuleSpec("Barn under 16 år: rtg (CR)", "paediatric", "0.40", "CR", max_age_years=15),
    RuleSpec("Barn under 16 år: rtg (DX)", "paediatric", "0.40", "DX", max_age_years=15),
    RuleSpec("Barn under 16 år: ultralyd", "paediatric", "0.80", "US", max_age_years=15),
    RuleSpec("Mammografi", "mamma", "0.50", "MG"),
    RuleSpec("Ultralyd mamma", "mamma", "0.60", "US", r"mamma|bryst"),
    RuleSpec("MR mamma", "mamma", "2.00", "MR", r"mamma|bryst"),
    RuleSpec("Nukleærmedisin", "nuclear", "1.50", "NM"),
    RuleSpec("PET", "nuclear", "2.00", "PT"),
    RuleSpec("CT traume", "emergency", "2.00", "CT", r"traume"),
    RuleSpec("CT hode, bihuler og columna", "neuro", "1.20", "CT", _NEURO),
    RuleSpec("MR hode og columna", "neuro", "2.00", "MR", _NEURO),
    RuleSpec("MR muskel og skjelett", "msk", "1.80", "MR", _MSK),
    RuleSpec("CT muskel og skjelett", "msk", "1.20", "CT", _MSK),
    RuleSpec("Rtg skjelett (CR)", "msk", "0.30", "CR", _MSK),
    RuleSpec("Rtg skjelett (DX)", "msk", "0.30", "DX", _MSK),
    RuleSpec("Ultralyd muskel og skjelett", "msk", "0.70", "US", _MSK),
    RuleSpec("CT hjerte og koronarkar", "cardiac", "2.00", "CT", r"hjerte|koronar"),
    RuleSpec("MR hjerte", "cardiac", "2.50", "MR", r"hjerte"),
    # Combined chest/abdomen staging is read with the abdomen, before the chest rule sees it.
    RuleSpec("CT thorax/abdomen (utredning)", "abdomen", "2.00", "CT", r"thorax/abdomen"),
    RuleSpec("CT thorax og lunger", "thorax", "1.20", "CT", r"thorax|lunge"),
    RuleSpec("Rtg thorax (CR)", "thorax", "0.40", "CR", r"thorax"),
    RuleSpec("Rtg thorax (DX)", "thorax", "0.40", "DX", r"thorax"),
    RuleSpec("CT abdomen og bekken", "abdomen", "1.50", "CT", _ABDOMEN),
    RuleSpec("MR abdomen og bekken", "abdomen", "2.20", "MR", _ABDOMEN),
    RuleSpec("Ultralyd abdomen", "abdomen", "0.60", "US", _ABDOMEN),
    RuleSpec("Rtg abdomen (CR)", "abdomen", "0.40", "CR", r"abdomen"),
    RuleSpec("Rtg abdomen (DX)", "abdomen", "0.40", "DX", r"abdomen"),
)


# --- People ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RadiologistSpec:
    first_name: str
    last_name: str
    modalities: tuple[str, ...]
    primary: tuple[str, ...]
    backup: tuple[str, ...] = ()


ALL_BUT_NUCLEAR = ("CT", "MR", "CR", "DX", "US")
# Every reader except the two narrow specialists reads the general worklist: that is where
# unclassified studies end up, and a demo where they rot unread would mislead.
RADIOLOGISTS: tuple[RadiologistSpec, ...] = (
    RadiologistSpec("Ingrid", "Fjellheim", ("CT", "MR"), ("neuro", "general"), ("emergency",)),
    RadiologistSpec("Håkon", "Bratlie", ("CT", "MR"), ("neuro",), ("general",)),
    RadiologistSpec("Sigrid", "Ødegård", ("CT", "MR", "US"), ("neuro", "general"), ("paediatric",)),
    RadiologistSpec("Øyvind", "Kvamme", ALL_BUT_NUCLEAR, ("msk", "general"), ("emergency",)),
    RadiologistSpec("Marte", "Lyngstad", ("MR", "CR", "DX", "US"), ("msk", "general")),
    RadiologistSpec("Eirik", "Solbakk", ALL_BUT_NUCLEAR, ("msk", "general"), ("thorax",)),
    RadiologistSpec("Kristin", "Aasland", ("MG", "US", "MR"), ("mamma",)),
    RadiologistSpec(
        "Tone", "Hjelmeland", ("MG", "US", "MR", "CT"), ("mamma", "general"), ("abdomen",)
    ),
    RadiologistSpec(
        "Anders", "Rønning", ("CT", "MR", "CR", "DX"), ("thorax", "cardiac", "general")
    ),
    RadiologistSpec(
        "Guro", "Vatne", ("CT", "CR", "DX"), ("thorax", "general"), ("abdomen", "emergency")
    ),
    RadiologistSpec(
        "Per-Olav", "Sæterdal", ("CT", "MR", "US"), ("abdomen", "general"), ("emergency",)
    ),
    RadiologistSpec(
        "Line", "Storaas", ("CT", "MR", "US", "CR", "DX"), ("abdomen", "general"), ("thorax",)
    ),
    RadiologistSpec("Jon Erik", "Tveit", ALL_BUT_NUCLEAR, ("abdomen", "emergency", "general")),
    RadiologistSpec("Silje", "Bøhmer", ALL_BUT_NUCLEAR, ("paediatric", "general"), ("msk",)),
    RadiologistSpec("Vegard", "Haugland", ALL_BUT_NUCLEAR, ("msk", "general"), ("paediatric",)),
    RadiologistSpec("Randi", "Løvås", ("NM", "PT", "CT"), ("nuclear",)),
    RadiologistSpec(
        "Torstein", "Myrvang", ("NM", "PT", "CT", "CR", "DX"), ("nuclear", "thorax"), ("general",)
    ),
    RadiologistSpec("Camilla", "Eikrem", ALL_BUT_NUCLEAR, ("emergency", "general"), ("neuro",)),
    RadiologistSpec("Magnus", "Øverby", ALL_BUT_NUCLEAR, ("emergency", "general"), ("cardiac",)),
    RadiologistSpec(
        "Astrid", "Hårstad", ALL_BUT_NUCLEAR, ("general", "emergency"), ("thorax", "abdomen")
    ),
)
FIRST_HPR_NUMBER = 9100001

FEMALE_NAMES = (
    "Kari", "Ingrid", "Solveig", "Åse", "Bjørg", "Marit", "Sigrid", "Ragnhild", "Tove", "Liv",
    "Astrid", "Gro", "Nora", "Emma", "Sofie", "Ingeborg", "Hege", "Mette", "Randi", "Kjersti",
    "Synnøve", "Torild", "Eldbjørg", "Frøydis", "Åshild", "Maja", "Tuva", "Signe", "Dagny", "Ylva",
)  # fmt: skip
MALE_NAMES = (
    "Ola", "Per", "Bjørn", "Knut", "Håkon", "Øyvind", "Jørgen", "Lars", "Arne", "Terje",
    "Svein", "Geir", "Rune", "Tor", "Kjell", "Sindre", "Magnus", "Jonas", "Aksel", "Emil",
    "Ståle", "Øystein", "Åsmund", "Trygve", "Halvard", "Eirik", "Torbjørn", "Gunnar", "Leif",
    "Iver",
)  # fmt: skip
FAMILY_NAMES = (
    "Haugen", "Bakken", "Sæther", "Løken", "Ødegård", "Fjærli", "Røed", "Østby", "Åsheim",
    "Kværnes", "Bråthen", "Tønnessen", "Grønli", "Hægeland", "Sælen", "Nygård", "Bøe", "Aas",
    "Solheim", "Lunde", "Strand", "Eide", "Moen", "Berg", "Dahl", "Lie", "Vik", "Myhre",
    "Kløvstad", "Brøndbo", "Stølen", "Hølaas", "Særheim", "Bjørnstad", "Fossum", "Grønvold",
    "Jørstad", "Kjærnes", "Lyngås", "Mjøen", "Nærland", "Ørbeck", "Ruud", "Skårdal", "Tjøtta",
)  # fmt: skip
REFERRERS = (
    "Hilde Aarnes, fastlege",
    "Ove Tjelta, fastlege",
    "Berit Kvåle, medisinsk avdeling",
    "Stian Rød, ortopedisk avdeling",
    "Nina Hovland, kirurgisk avdeling",
    "Erlend Skogstad, akuttmottak",
    "Marianne Sørbø, nevrologisk avdeling",
    "Kåre Fjeld, lungeavdelingen",
    "Ida Mørk, barneavdelingen",
    "Trond Vassbø, urologisk avdeling",
    "Lene Husby, onkologisk avdeling",
    "Petter Ås, legevakt",
)

REJECT_REASONS = ("Mangler klinisk problemstilling; henvisningen returneres til rekvirent.",)
HOLD_REASONS = ("Pasientidentitet må avklares med sykehuset før beskrivelse.",)
CANCEL_REASONS = (
    "Bestillingen er trukket av rekvirent.",
    "Pasienten er overført til annet sykehus.",
)
