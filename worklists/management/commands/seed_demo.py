"""Fill the database with a fictional regional teleradiology service to demonstrate and try out.

Everything here is invented: the hospitals, the people, and the patients, whose national numbers
are all in the synthetic range (month + 80) and can never belong to a real person. The demo users
exist only because this command creates them; all of them have the password ``demo``.

Studies go through the real services (order ingest, then the lifecycle transitions), so
classification, deadlines, events and assignments are exactly what the running system would
produce. Rerunning is safe: reference data is brought back to its demo state, and studies are
created only once unless ``--reset`` asks for a fresh set.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AbstractUser, Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from worklists import nin
from worklists.access import COORDINATORS_GROUP
from worklists.actors import Actor
from worklists.models import (
    Assignment,
    AuditEvent,
    ClassificationRule,
    Competence,
    Credential,
    DeadlineContract,
    Patient,
    PatientIdentifier,
    Priority,
    Radiologist,
    Site,
    SiteMembership,
    Study,
    StudyEvent,
    StudyStatus,
    Subspecialty,
)
from worklists.services.orders import (
    IdentifierInput,
    OrderAction,
    OrderInput,
    PatientInput,
    StudyInput,
    order_apply,
)
from worklists.services.studies import (
    study_assign,
    study_finalize,
    study_hold,
    study_reject,
    study_start_reading,
)
from worklists.services.tokens import site_token_get_or_create

DEMO_PASSWORD = "demo"  # noqa: S105 (the documented demo password, for fictional users)
DEMO_URL = "http://127.0.0.1:8000"
DEFAULT_STUDY_COUNT = 400
SEED = 20261126
COORDINATOR_USERNAME = "coordinator"
NATIONAL_AUTHORITY = "NO-FREG"

User = get_user_model()


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
    subspecialty: str
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


# --- Procedures --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProcedureSpec:
    modality: str
    code: str
    text: str
    body_part: str
    weight: int
    # One letter per share: S STAT, U URGENT, C CANCER_PATHWAY, R ROUTINE.
    priorities: str
    sex: str = ""  # "F" or "M" when the procedure only makes sense for one sex
    child_ok: bool = False
    adult_ok: bool = True


P = ProcedureSpec
# fmt: off
PROCEDURES: tuple[ProcedureSpec, ...] = (
    P("CT", "CAA0AA", "CT caput uten kontrast", "HEAD", 12, "SUUURRRRRR", child_ok=True),
    P("CT", "CAA0SL", "CT caput hjerneslagprotokoll med CT angiografi", "HEAD", 3, "S"),
    P("CT", "CAB0BA", "CT bihuler", "HEAD", 2, "RR"),
    P("CT", "CBC0AA", "CT columna cervicalis", "CSPINE", 3, "UURR"),
    P("CT", "CCA0AB", "CT thorax med kontrast", "CHEST", 6, "UCCRRR"),
    P("CT", "CCA0LE", "CT lungeemboli (CT angiografi lungearterier)", "CHEST", 5, "SUU"),
    P("CT", "CCF0AB", "CT thorax/abdomen/bekken med kontrast", "CHEST", 7, "UCCCRR"),
    P("CT", "CFA0AB", "CT abdomen/bekken med kontrast", "ABDOMEN", 7, "SUUURRRR"),
    P("CT", "CFG0AA", "CT urinveier uten kontrast", "ABDOMEN", 3, "UUR"),
    P("CT", "CXA0TR", "CT traume helkropp", "WHOLEBODY", 3, "S"),
    P("CT", "CXA0TC", "CT traume caput og columna cervicalis", "HEAD", 3, "SUU"),
    P("CT", "CNG0AH", "CT kne høyre", "KNEE", 2, "UR"),
    P("CT", "CDA0KO", "CT koronararterier", "HEART", 2, "R"),
    P("CT", "CKA0AN", "CT angiografi aorta", "AORTA", 2, "UR"),
    P("MR", "MAA0AB", "MR caput med kontrast", "BRAIN", 7, "UCRRRR", child_ok=True),
    P("MR", "MAB0HY", "MR hypofyse", "BRAIN", 1, "R", sex="F"),
    P("MR", "MBE0AA", "MR columna lumbalis", "LSPINE", 6, "URRRR"),
    P("MR", "MBC0AA", "MR columna cervicalis", "CSPINE", 2, "RR"),
    P("MR", "MNG0AH", "MR kne høyre", "KNEE", 6, "RRRR", child_ok=True),
    P("MR", "MNG0AV", "MR kne venstre", "KNEE", 3, "RRR"),
    P("MR", "MLA0AV", "MR skulder venstre", "SHOULDER", 4, "RRR"),
    P("MR", "MMA0AH", "MR hofte høyre", "HIP", 2, "RR"),
    P("MR", "MNM0AV", "MR ankel venstre", "ANKLE", 2, "RR"),
    P("MR", "MLG0AH", "MR håndledd høyre", "WRIST", 2, "UR", child_ok=True),
    P("MR", "MFA0LE", "MR lever med kontrast", "LIVER", 3, "CRR"),
    P("MR", "MFK0PR", "MR prostata", "PELVIS", 4, "CCR", sex="M"),
    P("MR", "MFM0RE", "MR bekken rektumcancer", "PELVIS", 2, "C"),
    P("MR", "MDA0AB", "MR hjerte", "HEART", 1, "R"),
    P("MR", "MXA0HK", "MR helkropp", "WHOLEBODY", 1, "CR"),
    P("MR", "MGA0MA", "MR mamma bilateral", "BREAST", 1, "C", sex="F"),
    P("DX", "NCA0AT", "Rtg thorax to plan", "CHEST", 14, "UURRRRR", child_ok=True),
    P("CR", "NCA0SE", "Rtg thorax sengeliggende", "CHEST", 5, "SUURRR"),
    P("DX", "NNG0AH", "Rtg kne høyre", "KNEE", 6, "RRRR", child_ok=True),
    P("CR", "NMA0AV", "Rtg hofte venstre", "HIP", 5, "SUURRRR"),
    P("DX", "NLG0AH", "Rtg håndledd høyre", "WRIST", 5, "UURR", child_ok=True),
    P("DX", "NNM0AV", "Rtg ankel venstre", "ANKLE", 4, "UURR", child_ok=True),
    P("DX", "NLA0AH", "Rtg skulder høyre", "SHOULDER", 3, "URR"),
    P("CR", "NFA0AA", "Rtg oversikt abdomen", "ABDOMEN", 2, "UR"),
    P("DX", "NBE0AA", "Rtg columna lumbalis", "LSPINE", 3, "RR"),
    P("DX", "NXA0SA", "Rtg skjelettalder (venstre hånd)", "HAND", 2, "R", child_ok=True,
      adult_ok=False),
    P("US", "UFA0AA", "UL abdomen", "ABDOMEN", 8, "UURRR", child_ok=True),
    P("US", "UFG0AA", "UL nyrer og urinveier", "KIDNEY", 3, "RR", child_ok=True),
    P("US", "UGA0MH", "UL mamma høyre", "BREAST", 3, "CCR", sex="F"),
    P("US", "ULA0AH", "UL skulder høyre", "SHOULDER", 2, "RR"),
    P("US", "UAE0TY", "UL thyreoidea", "THYROID", 3, "RR"),
    P("US", "UKH0VE", "UL vener underekstremitet", "LEG", 3, "UU"),
    P("MG", "GGA0SC", "Mammografi screening", "BREAST", 10, "R", sex="F"),
    P("MG", "GGA0KL", "Mammografi klinisk bilateral", "BREAST", 4, "CCR", sex="F"),
    P("NM", "KXA0SK", "Skjelettscintigrafi", "WHOLEBODY", 3, "CR"),
    P("NM", "KDA0MY", "Myokardscintigrafi", "HEART", 2, "R"),
    P("NM", "KAE0TY", "Thyreoideascintigrafi", "THYROID", 1, "R"),
    P("PT", "PXA0FD", "PET-CT FDG helkropp", "WHOLEBODY", 2, "C"),
)
# fmt: on

# The referral's clinical question, by procedure code.
QUESTIONS: dict[str, tuple[str, ...]] = {
    "CAA0AA": (
        "Akutt innsettende hodepine. Subaraknoidalblødning?",
        "Fall mot hodet, bruker Eliquis. Intrakraniell blødning?",
        "Økende forvirring siste uke, kjent demens. Ny patologi?",
    ),
    "CAA0SL": (
        "Akutt afasi og høyresidig parese, debut for 70 minutter siden. Okklusjon?",
        "Våknet med venstresidig facialisparese. Trombolysekandidat?",
    ),
    "CAB0BA": ("Langvarig bihulebetennelse, vurdering før operasjon.",),
    "CBC0AA": ("Fall fra stige, nakkesmerter og ømhet over processus spinosi. Fraktur?",),
    "CCA0AB": (
        "Kjent lungecancer, kontroll etter tre kurer cellegift.",
        "Vekttap og hoste i seks uker, storrøyker. Malignitet?",
        "Rundskygge på rtg thorax. Videre karakterisering.",
    ),
    "CCA0LE": (
        "Dyspné og takykardi, forhøyet D-dimer. Lungeemboli?",
        "Brystsmerter ved inspirasjon etter lang flyreise. LE?",
    ),
    "CCF0AB": (
        "Nyoppdaget koloncancer. Stadieinndeling.",
        "Uavklart vekttap og anemi. Malignitet?",
        "Pakkeforløp: mistenkt lymfom. Utbredelse?",
    ),
    "CFA0AB": (
        "Smerter i høyre fossa, CRP 85. Appendicitt?",
        "Smerter i venstre fossa og feber. Divertikulitt?",
        "Oppkast og utspilt abdomen. Ileus?",
    ),
    "CFG0AA": ("Venstresidige flankesmerter og mikroskopisk hematuri. Konkrement?",),
    "CXA0TR": (
        "Trafikkulykke i høy hastighet, påvirket bevissthet. Skadeomfang?",
        "Fall fra fire meters høyde. Multitraume?",
    ),
    "CXA0TC": (
        "Sykkelulykke uten hjelm, kortvarig bevisstløs. Intrakraniell skade eller nakkefraktur?",
        "Fall i trapp, antikoagulert, smerter i nakken. Blødning eller fraktur?",
    ),
    "CNG0AH": ("Tibiaplatåfraktur på rtg. Preoperativ vurdering.",),
    "CDA0KO": ("Anstrengelsesutløste brystsmerter, lav til intermediær risiko. Koronarsykdom?",),
    "CKA0AN": ("Kjent abdominalt aortaaneurisme 4,8 cm. Kontroll.",),
    "MAA0AB": (
        "Nyoppståtte epileptiske anfall. Tumor?",
        "Kjent multippel sklerose, årlig kontroll.",
        "Progredierende hodepine og synsforstyrrelser. Ekspansiv prosess?",
    ),
    "MAB0HY": ("Forhøyet prolaktin. Mikroadenom?",),
    "MBE0AA": (
        "Isjias høyre L5 i åtte uker, ikke bedring. Prolaps?",
        "Nyoppståtte pareser og urinretensjon. Cauda equina?",
    ),
    "MBC0AA": ("Smerter og nummenhet i høyre arm. Rotaffeksjon?",),
    "MNG0AH": (
        "Vridningstraume i fotball, låsninger. Menisklesjon?",
        "Instabilitet etter fall på ski. Korsbåndsruptur?",
    ),
    "MNG0AV": ("Hevelse og smerter medialt. Menisklesjon?",),
    "MLA0AV": ("Smerter ved abduksjon over 90 grader. Rotatorcuffruptur?",),
    "MMA0AH": ("Lyskesmerter hos løper. Stressfraktur?",),
    "MNM0AV": ("Vedvarende smerter etter overtråkk for tre måneder siden. Ligamentskade?",),
    "MLG0AH": ("Fall på utstrakt hånd, ømhet i snusboksen. Scaphoideumfraktur?",),
    "MFA0LE": ("Uavklart leverlesjon på ultralyd. Karakterisering.",),
    "MFK0PR": (
        "PSA 8,2 og stigende. Malignitet?",
        "Pakkeforløp prostatakreft. Lokal utbredelse?",
    ),
    "MFM0RE": ("Nyoppdaget rektumcancer. Lokal stadieinndeling.",),
    "MDA0AB": ("Brystsmerter og troponinstigning uten koronarsykdom. Myokarditt?",),
    "MXA0HK": ("Myelomatose. Utbredelse av skjelettlesjoner?",),
    "MGA0MA": ("Lobulært karsinom høyre bryst. Preoperativ utbredelse?",),
    "NCA0AT": (
        "Hoste og feber i fem dager. Pneumoni?",
        "Preoperativ vurdering før hofteprotese.",
        "Dyspné og ødemer. Stuvning?",
    ),
    "NCA0SE": (
        "Kontroll etter innleggelse av sentralt venekateter. Pneumothorax?",
        "Respirasjonssvikt på intensiv. Utvikling?",
    ),
    "NNG0AH": ("Belastningssmerter. Gonartrose?", "Fall på kneet, hevelse. Fraktur?"),
    "NMA0AV": ("Fall hjemme, kan ikke belaste, forkortet og utoverrotert bein. Collumfraktur?",),
    "NLG0AH": ("Fall på utstrakt hånd. Radiusfraktur?",),
    "NNM0AV": ("Overtråkk, ømhet over laterale malleol. Fraktur?",),
    "NLA0AH": ("Smerter etter fall. Luksasjon?",),
    "NFA0AA": ("Kvalme og oppkast, ikke hatt avføring på fire dager. Ileus?",),
    "NBE0AA": ("Langvarige korsryggsmerter. Degenerative forandringer?",),
    "NXA0SA": ("Kort vekst. Skjelettalder?",),
    "UFA0AA": (
        "Smerter under høyre kostalbue etter fete måltider. Gallestein?",
        "Forhøyede leverprøver. Fettlever?",
        "Magesmerter og feber. Appendicitt?",
    ),
    "UFG0AA": ("Stigende kreatinin. Avløpshinder?",),
    "UGA0MH": ("Palpabel kul i høyre bryst. Pakkeforløp brystkreft.",),
    "ULA0AH": ("Smerter ved abduksjon. Bursitt eller senelesjon?",),
    "UAE0TY": ("Palpabel knute i thyreoidea. Karakterisering.",),
    "UKH0VE": ("Hoven og øm venstre legg. Dyp venetrombose?",),
    "GGA0SC": ("Mammografiprogrammet, rutinescreening.",),
    "GGA0KL": (
        "Kul i venstre bryst. Pakkeforløp brystkreft.",
        "Inndragning av brystvorte. Malignitet?",
    ),
    "KXA0SK": (
        "Prostatacancer med stigende PSA. Skjelettmetastaser?",
        "Uavklarte skjelettsmerter. Metastaser?",
    ),
    "KDA0MY": ("Atypiske brystsmerter. Iskemi?",),
    "KAE0TY": ("Hypertyreose. Toksisk knute eller Graves?",),
    "PXA0FD": ("Lymfom, responsevaluering etter to kurer.",),
}
PRIORITY_LETTERS = {
    "S": Priority.STAT,
    "U": Priority.URGENT,
    "C": Priority.CANCER_PATHWAY,
    "R": Priority.ROUTINE,
}


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


# --- Study plans -------------------------------------------------------------------------------


@dataclass(slots=True)
class PatientPlan:
    index: int
    family_name: str
    given_name: str
    birth_date: dt.date
    sex: str
    national_kind: str
    national_number: str
    home_site: str
    local_numbers: dict[str, str] = field(default_factory=dict)

    @property
    def is_child(self) -> bool:
        return age_on(self.birth_date, timezone.localdate()) <= 15


@dataclass(slots=True)
class Timeline:
    """The times the study's events should carry, once the services have run."""

    ordered_at: dt.datetime
    at_by_status: dict[str, dt.datetime] = field(default_factory=dict)


# Target shares of the final status; what is left stays READY in a worklist.
STATUS_SHARES: tuple[tuple[str, float], ...] = (
    (StudyStatus.ORDERED, 0.13),
    (StudyStatus.FINAL, 0.32),
    (StudyStatus.ASSIGNED, 0.12),
    (StudyStatus.IN_PROGRESS, 0.06),
    (StudyStatus.CANCELLED, 0.03),
    (StudyStatus.REJECTED, 0.01),
    (StudyStatus.ON_HOLD, 0.01),
)
# How far back an order may lie, by priority, for a study that is still unread: urgent work does
# not sit for days in a working service, so only routine and cancer-pathway studies go far back.
UNREAD_MAX_AGE_HOURS: dict[str, int] = {
    Priority.STAT: 3,
    Priority.URGENT: 10,
    Priority.CANCER_PATHWAY: 40,
    Priority.ROUTINE: 100,
}
READ_MAX_AGE_HOURS = 110


def age_on(birth_date: dt.date, day: dt.date) -> int:
    before_birthday = (day.month, day.day) < (birth_date.month, birth_date.day)
    return day.year - birth_date.year - int(before_birthday)


def status_quota(total: int) -> list[str]:
    """Exactly how many studies end in each status, so small demo sets still show every state."""
    targets: list[str] = []
    for status, share in STATUS_SHARES:
        count = round(total * share)
        if total >= 20:
            count = max(count, 1)
        targets.extend([status] * count)
    targets = targets[:total]
    targets.extend([StudyStatus.READY] * (total - len(targets)))
    return targets


# --- The command -------------------------------------------------------------------------------


class Command(BaseCommand):
    help = "Create a fictional demo service: sites, worklists, radiologists, users and studies."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--studies",
            type=int,
            default=DEFAULT_STUDY_COUNT,
            help=f"How many studies to create (default {DEFAULT_STUDY_COUNT}).",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete the demo sites' studies (and orphaned demo patients) and create new ones.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["studies"] < 0:
            raise CommandError("--studies cannot be negative")
        started = time.monotonic()
        # Every transition broadcasts a live update after commit, and eager Celery logs each one
        # at INFO: a thousand lines that would bury the summary below.
        trace_logger = logging.getLogger("celery.app.trace")
        previous_level = trace_logger.level
        trace_logger.setLevel(logging.WARNING)
        try:
            created, sites, tokens = self._seed(
                study_count=options["studies"], reset=options["reset"]
            )
        finally:
            trace_logger.setLevel(previous_level)
        self._print_summary(
            created=created, elapsed=time.monotonic() - started, sites=sites, tokens=tokens
        )

    @transaction.atomic
    def _seed(
        self, *, study_count: int, reset: bool
    ) -> tuple[int, dict[str, Site], dict[str, str]]:
        if reset:
            self._delete_demo_studies()
        sites = self._ensure_sites()
        subspecialties = self._ensure_subspecialties()
        self._ensure_rules(subspecialties)
        password_hash = make_password(DEMO_PASSWORD)
        coordinator = self._ensure_coordinator(password_hash)
        radiologists = self._ensure_radiologists(password_hash, sites, subspecialties)
        self._ensure_site_users(password_hash, sites)
        created = 0
        existing = Study.objects.filter(site__in=sites.values()).count()
        if existing:
            self.stdout.write(
                f"The demo sites already have {existing} studies; none added "
                "(use --reset to replace them)."
            )
        else:
            created = StudySeeder(
                sites=sites, radiologists=radiologists, coordinator=coordinator, now=timezone.now()
            ).seed(study_count)
        tokens = {code: site_token_get_or_create(site_code=code)[0].key for code in sites}
        return created, sites, tokens

    # Reference data: brought back to its demo state on every run.

    def _delete_demo_studies(self) -> None:
        demo_studies = Study.objects.filter(site__code__in=[s.code for s in SITES])
        patient_ids = set(demo_studies.values_list("patient_id", flat=True))
        deleted = demo_studies.count()
        demo_studies.delete()
        # Patients the audit trail points at stay: the trail is never rewritten, and the next
        # seed finds them again by their national number.
        orphans = (
            Patient.objects.filter(id__in=patient_ids, studies__isnull=True)
            .exclude(id__in=AuditEvent.objects.filter(patient__isnull=False).values("patient_id"))
            .distinct()
        )
        orphans.delete()
        self.stdout.write(f"Deleted {deleted} demo studies.")

    def _ensure_sites(self) -> dict[str, Site]:
        sites: dict[str, Site] = {}
        for spec in SITES:
            site, _ = Site.objects.update_or_create(
                code=spec.code,
                defaults={
                    "name": spec.name,
                    "kind": spec.kind,
                    "time_zone": "Europe/Oslo",
                    "hl7_sending_facility": spec.facility,
                    "dicom_ae_title": f"{spec.facility}_PACS"[:16],
                    "viewer_url_template": (
                        f"https://pacs.{spec.code}.example/viewer"
                        "?StudyInstanceUIDs={study_instance_uid}"
                    ),
                    "is_active": True,
                },
            )
            for priority, minutes in zip(PRIORITY_ORDER, spec.turnaround, strict=True):
                DeadlineContract.objects.update_or_create(
                    site=site, priority=priority, defaults={"turnaround_minutes": minutes}
                )
            sites[spec.code] = site
        return sites

    def _ensure_subspecialties(self) -> dict[str, Subspecialty]:
        result = {"general": Subspecialty.objects.get(is_general=True)}
        for code, name, order in SUBSPECIALTIES:
            result[code], _ = Subspecialty.objects.update_or_create(
                code=code, defaults={"name": name, "display_order": order}
            )
        return result

    def _ensure_rules(self, subspecialties: dict[str, Subspecialty]) -> None:
        for number, spec in enumerate(RULES, start=1):
            ClassificationRule.objects.update_or_create(
                name=spec.name,
                defaults={
                    "position": number * 10,
                    "is_active": True,
                    "subspecialty": subspecialties[spec.subspecialty],
                    "work_units": Decimal(spec.work_units),
                    "modality": spec.modality,
                    "description_pattern": spec.description_pattern,
                    "max_age_years": spec.max_age_years,
                },
            )

    def _ensure_user(
        self,
        *,
        username: str,
        password_hash: str,
        first_name: str,
        last_name: str,
        is_staff: bool = False,
        is_superuser: bool = False,
    ) -> AbstractUser:
        # One PBKDF2 hash shared by every demo user keeps the command fast; they share the
        # password anyway.
        user, _ = User.objects.update_or_create(
            username=username,
            defaults={
                "first_name": first_name,
                "last_name": last_name,
                "email": f"{username}@demo.example",
                "is_active": True,
                "is_staff": is_staff,
                "is_superuser": is_superuser,
                "password": password_hash,
            },
        )
        return user

    def _ensure_coordinator(self, password_hash: str) -> AbstractUser:
        user = self._ensure_user(
            username=COORDINATOR_USERNAME,
            password_hash=password_hash,
            first_name="Mona",
            last_name="Fredheim",
            is_staff=True,
            is_superuser=True,
        )
        user.groups.add(Group.objects.get(name=COORDINATORS_GROUP))
        return user

    def _ensure_radiologists(
        self,
        password_hash: str,
        sites: dict[str, Site],
        subspecialties: dict[str, Subspecialty],
    ) -> list[Radiologist]:
        rng = random.Random(f"{SEED}-credentials")
        today = timezone.localdate()
        site_codes = [s.code for s in SITES]
        radiologists = []
        for number, spec in enumerate(RADIOLOGISTS, start=1):
            username = f"rad{number:02d}"
            user = self._ensure_user(
                username=username,
                password_hash=password_hash,
                first_name=spec.first_name,
                last_name=spec.last_name,
            )
            radiologist, _ = Radiologist.objects.update_or_create(
                user=user,
                defaults={
                    "hpr_number": str(FIRST_HPR_NUMBER + number - 1),
                    "modalities": list(spec.modalities),
                    "is_active": True,
                },
            )
            levels = dict.fromkeys(spec.primary, Competence.Level.PRIMARY)
            levels.update(dict.fromkeys(spec.backup, Competence.Level.BACKUP))
            for code, level in levels.items():
                Competence.objects.update_or_create(
                    radiologist=radiologist,
                    subspecialty=subspecialties[code],
                    defaults={"level": level},
                )
            chosen = rng.sample(site_codes, k=rng.randint(3, 5))
            for site_index, code in enumerate(sorted(chosen)):
                valid_until = None
                # A few credentials that ran out or are about to, as in any real roster.
                if number in (5, 12) and site_index == 0:
                    valid_until = today - dt.timedelta(days=20 + number)
                elif number == 9 and site_index == 0:
                    valid_until = today + dt.timedelta(days=10)
                valid_from = today - dt.timedelta(days=rng.randint(120, 1500))
                Credential.objects.update_or_create(
                    radiologist=radiologist,
                    site=sites[code],
                    authorisation_reference=(f"{code.upper()}-PRIV-{valid_from.year}-{number:03d}"),
                    defaults={
                        "valid_from": valid_from,
                        "valid_until": valid_until,
                        "revoked_at": None,
                    },
                )
            radiologists.append(radiologist)
        return radiologists

    def _ensure_site_users(self, password_hash: str, sites: dict[str, Site]) -> None:
        for spec in SITES:
            user = self._ensure_user(
                username=spec.code,
                password_hash=password_hash,
                first_name="Ekspedisjonen",
                last_name=spec.name,
            )
            SiteMembership.objects.update_or_create(user=user, defaults={"site": sites[spec.code]})

    def _print_summary(
        self, *, created: int, elapsed: float, sites: dict[str, Site], tokens: dict[str, str]
    ) -> None:
        counts = dict(
            Study.objects.filter(site__in=sites.values())
            .values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        statuses = ", ".join(f"{counts[s]} {s}" for s in StudyStatus.values if s in counts)
        code_width = max(len(code) for code in tokens)
        rule = "=" * 78
        lines = [
            "",
            rule,
            f"Teleradiology demo ready in {elapsed:.1f} s ({created} studies created this run).",
            f"Studies at the demo sites: {statuses or 'none'}.",
            "",
            f"Open {DEMO_URL}   (`make run` starts it; or: manage.py serve)",
            f"Admin: {DEMO_URL}/admin/",
            "",
            f"Demo logins; the password for every one is: {DEMO_PASSWORD}",
            f"  {COORDINATOR_USERNAME:<12} Mona Fredheim, coordinator (staff and superuser)",
        ]
        for number, spec in enumerate(RADIOLOGISTS, start=1):
            name = f"{spec.first_name} {spec.last_name}"
            lines.append(
                f"  rad{number:02d}        {name:<20} radiologist: {', '.join(spec.primary)}"
            )
        for code, site in sites.items():
            lines.append(f"  {code:<12} site user at {site.name}")
        lines += [
            "",
            "Site API tokens (send as the header  Authorization: Token <key>):",
            *(f"  {code:<{code_width}}  {key}" for code, key in tokens.items()),
            rule,
        ]
        self.stdout.write("\n".join(lines))


# --- Studies -----------------------------------------------------------------------------------


class StudySeeder:
    """Creates the studies through the real services, then gives them a plausible past."""

    def __init__(
        self,
        *,
        sites: dict[str, Site],
        radiologists: Sequence[Radiologist],
        coordinator: AbstractUser,
        now: dt.datetime,
    ) -> None:
        self.sites = sites
        self.now = now
        self.latest = now - dt.timedelta(minutes=1)
        self.today = timezone.localdate(now)
        self.rng = random.Random(f"{SEED}-studies")
        self.nin_rng = random.Random(SEED)
        self.coordinator = Actor.for_user(coordinator)
        self.router = Actor.system("demo")
        self.radiologists = list(radiologists)
        self.reader_actor = {r.id: Actor.for_user(r.user) for r in self.radiologists}
        self.turnaround = {
            spec.code: dict(zip(PRIORITY_ORDER, spec.turnaround, strict=True)) for spec in SITES
        }
        self._eligibility_index()
        self.patients: list[PatientPlan] = []
        self.used_numbers: set[str] = set()
        self.accession_counter = dict.fromkeys(sites, 0)
        self.timelines: dict[int, Timeline] = {}

    def _eligibility_index(self) -> None:
        valid = Credential.objects.filter(
            Q(revoked_at__isnull=True, valid_from__lte=self.today)
            & (Q(valid_until__isnull=True) | Q(valid_until__gte=self.today)),
            radiologist__in=self.radiologists,
        )
        self.credentialed: dict[int, set[int]] = {}
        for radiologist_id, site_id in valid.values_list("radiologist_id", "site_id"):
            self.credentialed.setdefault(radiologist_id, set()).add(site_id)
        self.competent: dict[int, set[int]] = {}
        for radiologist_id, subspecialty_id in Competence.objects.filter(
            radiologist__in=self.radiologists
        ).values_list("radiologist_id", "subspecialty_id"):
            self.competent.setdefault(radiologist_id, set()).add(subspecialty_id)

    def eligible_readers(self, study: Study) -> list[Radiologist]:
        return [
            r
            for r in self.radiologists
            if study.site_id in self.credentialed.get(r.id, set())
            and study.worklist_id in self.competent.get(r.id, set())
            and r.reads_modality(study.modality)
        ]

    # Patients

    def _new_patient(self) -> PatientPlan:
        rng = self.rng
        sex = rng.choice(("F", "M"))
        roll = rng.random()
        if roll < 0.14:
            age_years = rng.randint(0, 15)
        elif roll < 0.30:
            age_years = rng.randint(16, 45)
        else:
            age_years = min(int(rng.triangular(40, 98, 72)), 98)
        birth_date = self.today - dt.timedelta(days=age_years * 365 + rng.randint(0, 364))
        d_number = rng.random() < 0.04
        while True:
            number = nin.synthetic_number(birth_date, rng=self.nin_rng, sex=sex, d_number=d_number)
            if number not in self.used_numbers:
                break
        self.used_numbers.add(number)
        given = rng.choice(FEMALE_NAMES if sex == "F" else MALE_NAMES)
        if rng.random() < 0.15:
            given = f"{given} {rng.choice(FEMALE_NAMES if sex == 'F' else MALE_NAMES)}"
        patient = PatientPlan(
            index=len(self.patients) + 1,
            family_name=rng.choice(FAMILY_NAMES),
            given_name=given,
            birth_date=birth_date,
            sex=sex,
            national_kind=(
                PatientIdentifier.Kind.D_NUMMER
                if d_number
                else PatientIdentifier.Kind.FODSELSNUMMER
            ),
            national_number=number,
            home_site=rng.choice(list(self.sites)),
        )
        self.patients.append(patient)
        return patient

    def _pick_patient_and_site(self) -> tuple[PatientPlan, str]:
        rng = self.rng
        if self.patients and rng.random() < 0.3:
            # A returning patient, often at another hospital: these are the priors across sites
            # that a reader has to see.
            patient = rng.choice(self.patients)
            if rng.random() < 0.6:
                return patient, rng.choice([c for c in self.sites if c != patient.home_site])
            return patient, patient.home_site
        patient = self._new_patient()
        return patient, patient.home_site

    def _patient_input(self, patient: PatientPlan, site_code: str) -> PatientInput:
        local = patient.local_numbers.setdefault(
            site_code, f"{site_code[:2].upper()}{700000 + patient.index}"
        )
        return PatientInput(
            identifiers=(
                IdentifierInput(
                    kind=patient.national_kind,
                    value=patient.national_number,
                    authority=NATIONAL_AUTHORITY,
                ),
                IdentifierInput(
                    kind=PatientIdentifier.Kind.LOCAL, value=local, authority=site_code
                ),
            ),
            family_name=patient.family_name,
            given_name=patient.given_name,
            birth_date=patient.birth_date,
            sex=patient.sex,
        )

    # Orders

    def _pick_procedure(self, patient: PatientPlan) -> ProcedureSpec:
        candidates = [
            p
            for p in PROCEDURES
            if (p.child_ok if patient.is_child else p.adult_ok)
            and (not p.sex or p.sex == patient.sex)
        ]
        return self.rng.choices(candidates, weights=[p.weight for p in candidates])[0]

    def _ordered_at(self, priority: str, target: str) -> dt.datetime:
        if target == StudyStatus.ORDERED:
            hours = self.rng.uniform(0.1, 8)
        elif target in (StudyStatus.READY, StudyStatus.ASSIGNED, StudyStatus.IN_PROGRESS):
            hours = self.rng.uniform(0.2, UNREAD_MAX_AGE_HOURS[priority])
        else:
            hours = self.rng.uniform(1, READ_MAX_AGE_HOURS)
        return self.now - dt.timedelta(hours=hours)

    def _accession(self, site_code: str) -> str:
        self.accession_counter[site_code] += 1
        prefix = site_code[:3].upper()
        return f"{prefix}{self.today:%y}{self.accession_counter[site_code]:06d}"

    def seed(self, count: int) -> int:
        targets = status_quota(count)
        self.rng.shuffle(targets)
        for target in targets:
            self._create_one(target)
        self._apply_timelines()
        return len(targets)

    def _create_one(self, target: str) -> None:
        rng = self.rng
        patient, site_code = self._pick_patient_and_site()
        procedure = self._pick_procedure(patient)
        priority = PRIORITY_LETTERS[rng.choice(procedure.priorities)]
        ordered_at = self._ordered_at(priority, target)
        site = self.sites[site_code]
        site_actor = Actor.for_site(site_code)
        accession = self._accession(site_code)
        images = target != StudyStatus.ORDERED
        result = order_apply(
            site_id=site.id,
            order=OrderInput(
                accession_number=accession,
                action=OrderAction.NEW,
                patient=self._patient_input(patient, site_code),
                study=StudyInput(
                    modality=procedure.modality,
                    procedure_text=procedure.text,
                    procedure_code=procedure.code,
                    body_part=procedure.body_part,
                    ordered_at=ordered_at,
                    priority=priority,
                    clinical_question=rng.choice(QUESTIONS[procedure.code]),
                    referring_physician=rng.choice(REFERRERS),
                    study_instance_uid=f"2.25.{rng.getrandbits(96)}",
                ),
                images_available=images,
            ),
            actor=site_actor,
        )
        study = result.study
        timeline = Timeline(ordered_at=ordered_at)
        self.timelines[study.id] = timeline
        if not images:
            # A few orders are withdrawn before the images ever arrive.
            if rng.random() < 0.12:
                self._cancel(study, site_code, timeline, start=ordered_at)
            return
        ready_at = self._between(ordered_at, minutes=(4, 50))
        timeline.at_by_status[StudyStatus.READY] = ready_at
        self._advance(study, target, timeline, ready_at)

    def _advance(
        self, study: Study, target: str, timeline: Timeline, ready_at: dt.datetime
    ) -> None:
        rng = self.rng
        if target == StudyStatus.CANCELLED:
            self._cancel(study, study.site.code, timeline, start=ready_at)
            return
        if target == StudyStatus.REJECTED:
            study_reject(study_id=study.id, actor=self.coordinator, reason=REJECT_REASONS[0])
            timeline.at_by_status[StudyStatus.REJECTED] = self._later(ready_at, 0.2)
            return
        if target == StudyStatus.ON_HOLD:
            study_hold(study_id=study.id, actor=self.coordinator, reason=HOLD_REASONS[0])
            timeline.at_by_status[StudyStatus.ON_HOLD] = self._later(ready_at, 0.3)
            return
        if target not in (StudyStatus.ASSIGNED, StudyStatus.IN_PROGRESS, StudyStatus.FINAL):
            return
        readers = self.eligible_readers(study)
        if not readers:
            return  # nobody may read it here: it waits in its worklist, as it would for real
        reader = rng.choice(readers)
        reader_actor = self.reader_actor[reader.id]
        mode = rng.random()
        if mode < 0.6:
            kind, actor, reason = Assignment.Kind.PUSH, self.router, ""
        elif mode < 0.9:
            kind, actor, reason = Assignment.Kind.PULL, reader_actor, "read next"
        else:
            kind, actor, reason = (
                Assignment.Kind.MANUAL,
                self.coordinator,
                "Fordelt manuelt til subspesialist.",
            )
        study_assign(
            study_id=study.id, radiologist_id=reader.id, actor=actor, kind=kind, reason=reason
        )
        if target == StudyStatus.ASSIGNED:
            timeline.at_by_status[StudyStatus.ASSIGNED] = self._later(ready_at, 0.5)
            return
        study_start_reading(study_id=study.id, radiologist_id=reader.id, actor=reader_actor)
        if target == StudyStatus.IN_PROGRESS:
            started_at = max(ready_at, self.latest - dt.timedelta(minutes=rng.uniform(1, 40)))
            timeline.at_by_status[StudyStatus.IN_PROGRESS] = started_at
            timeline.at_by_status[StudyStatus.ASSIGNED] = self._fraction(
                ready_at, started_at, rng.uniform(0.2, 0.9)
            )
            return
        study_finalize(study_id=study.id, radiologist_id=reader.id, actor=reader_actor)
        turnaround = dt.timedelta(minutes=self.turnaround[study.site.code][study.priority])
        # Most studies are signed well inside their contract; about one in ten is late.
        share = rng.uniform(1.0, 1.4) if rng.random() < 0.1 else rng.uniform(0.05, 0.85)
        final_at = min(ready_at + turnaround * share, self.latest)
        started_at = max(ready_at, final_at - dt.timedelta(minutes=rng.uniform(3, 30)))
        timeline.at_by_status[StudyStatus.FINAL] = final_at
        timeline.at_by_status[StudyStatus.IN_PROGRESS] = started_at
        timeline.at_by_status[StudyStatus.ASSIGNED] = self._fraction(
            ready_at, started_at, rng.uniform(0.1, 0.95)
        )

    def _cancel(self, study: Study, site_code: str, timeline: Timeline, start: dt.datetime) -> None:
        order_apply(
            site_id=study.site_id,
            order=OrderInput(
                accession_number=study.accession_number,
                action=OrderAction.CANCEL,
                reason=self.rng.choice(CANCEL_REASONS),
            ),
            actor=Actor.for_site(site_code),
        )
        timeline.at_by_status[StudyStatus.CANCELLED] = self._later(start, 0.5)

    # Time helpers: every planned moment lies between the order and one minute ago.

    def _between(self, start: dt.datetime, *, minutes: tuple[int, int]) -> dt.datetime:
        wanted = start + dt.timedelta(minutes=self.rng.uniform(*minutes))
        if wanted <= self.latest:
            return wanted
        return self._fraction(start, self.latest, 0.5)

    def _later(self, start: dt.datetime, max_share: float) -> dt.datetime:
        return self._fraction(start, self.latest, self.rng.uniform(0.02, max_share))

    @staticmethod
    def _fraction(start: dt.datetime, end: dt.datetime, share: float) -> dt.datetime:
        if end <= start:
            return start
        return start + (end - start) * share

    def _apply_timelines(self) -> None:
        """Move each study's timestamps back to its planned past.

        The services stamp everything with the moment they run, so without this every study
        would have become ready in the same second: no deadline would be near or overdue and no
        turnaround could be measured. Only timestamps move; statuses, classifications and
        events stay exactly as the services wrote them.
        """
        studies = list(Study.objects.filter(id__in=self.timelines))
        events = list(StudyEvent.objects.filter(study_id__in=self.timelines).order_by("id"))
        assignments = list(Assignment.objects.filter(study_id__in=self.timelines))
        deadlines: dict[int, str] = {}
        for study in studies:
            ready_at = self.timelines[study.id].at_by_status.get(StudyStatus.READY)
            if ready_at is not None and study.ready_at is not None and study.deadline is not None:
                # The contract's turnaround counts from ready, so the deadline moves with it.
                study.deadline -= study.ready_at - ready_at
                study.ready_at = ready_at
                deadlines[study.id] = study.deadline.isoformat()
        last_at: dict[int, dt.datetime] = {}
        for event in events:
            timeline = self.timelines[event.study_id]
            if event.to_status == StudyStatus.ORDERED and not event.from_status:
                event.at = timeline.ordered_at
            else:
                event.at = timeline.at_by_status.get(event.to_status, event.at)
            if "deadline" in event.data and event.study_id in deadlines:
                event.data = {**event.data, "deadline": deadlines[event.study_id]}
            last_at[event.study_id] = event.at
        for study in studies:
            study.status_changed_at = last_at[study.id]
        for assignment in assignments:
            assigned_at = self.timelines[assignment.study_id].at_by_status.get(StudyStatus.ASSIGNED)
            if assigned_at is not None:
                assignment.assigned_at = assigned_at
            if assignment.ended_at is not None:
                assignment.ended_at = last_at[assignment.study_id]
        Study.objects.bulk_update(
            studies, ["ready_at", "deadline", "status_changed_at"], batch_size=500
        )
        StudyEvent.objects.bulk_update(events, ["at", "data"], batch_size=500)
        Assignment.objects.bulk_update(assignments, ["assigned_at", "ended_at"], batch_size=500)
