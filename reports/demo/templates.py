"""The demo's report templates: bokmål, with the normal findings filled in for the reader to
edit, for the procedure codes the demo sites order (worklists/demo/procedures.py).

Pure data. Synthetic text written for the demo, in common Norwegian radiology phrasing.
"""

from __future__ import annotations

from dataclasses import dataclass

CLINICAL = ("clinical_information", "Klinisk informasjon", "")


@dataclass(frozen=True, slots=True)
class TemplateSpec:
    name: str
    modality: str
    sections: tuple[tuple[str, str, str], ...]
    procedure_codes: tuple[str, ...] = ()
    worklist: str = ""  # a worklist's template, for its studies without a procedure template


def _sections(technique: str, findings: str, conclusion: str) -> tuple[tuple[str, str, str], ...]:
    return (
        CLINICAL,
        ("technique", "Teknikk", technique),
        ("findings", "Funn", findings),
        ("conclusion", "Konklusjon", conclusion),
    )


def _mammography(
    technique: str, findings: str, conclusion: str
) -> tuple[tuple[str, str, str], ...]:
    return (
        CLINICAL,
        ("technique", "Teknikk", technique),
        ("density", "Brysttetthet", "ACR B: spredte områder med fibroglandulært vev."),
        ("findings", "Funn", findings),
        ("birads", "BI-RADS", "Høyre: BI-RADS 1. Venstre: BI-RADS 1."),
        ("conclusion", "Konklusjon", conclusion),
    )


CT_HEAD_FINDINGS = (
    "Ingen intrakraniell blødning. Normal differensiering mellom grå og hvit substans, ingen "
    "sikre tegn til akutt infarkt. Ventrikelsystemet er normalt stort, symmetrisk og "
    "midtstilt. Åpne basale cisterner. Ingen ekstraaksiale væskeansamlinger. Ingen fraktur "
    "i kalvariet eller skallebasis. Fri luftholdighet i bihuler og mastoidceller."
)
CHEST_FINDINGS = (
    "Normal hjertestørrelse og mediastinalkontur. Ingen infiltrater eller stuvning. "
    "Frie costophreniske sinus. Ingen pneumothorax. Upåfallende skjelett."
)
ABDOMEN_FINDINGS = (
    "Lever, galleblære og galleveier, milt, pankreas og binyrer uten fokale forandringer. "
    "Normale nyrer uten avløpshinder eller konkrementer. Tarmen uten veggfortykkelse eller "
    "obstruksjon. Normal appendiks. Ingen fri væske eller fri luft. Ingen forstørrede "
    "lymfeknuter."
)
KNEE_FINDINGS = (
    "Menisker: Intakt medial og lateral menisk.\n"
    "Ligamenter: Intakt fremre og bakre korsbånd. Intakte mediale og laterale "
    "kollateralligamenter.\n"
    "Brusk: Normal leddbrusk i alle tre kompartment.\n"
    "Bein: Ingen beinmargsødem eller fraktur.\n"
    "Øvrig: Ingen leddvæske av betydning. Ingen Bakercyste. Intakt ekstensorapparat."
)

TEMPLATES: tuple[TemplateSpec, ...] = (
    TemplateSpec(
        "CT caput uten kontrast",
        "CT",
        _sections(
            "CT caput uten intravenøs kontrast. Aksiale snitt med koronale og sagittale "
            "rekonstruksjoner i bløtdels- og beinvindu.",
            CT_HEAD_FINDINGS,
            "Ingen akutt intrakraniell patologi.",
        ),
        procedure_codes=("CAA0AA",),
    ),
    TemplateSpec(
        "CT caput hjerneslagprotokoll",
        "CT",
        _sections(
            "CT caput uten kontrast, deretter CT angiografi fra aortabuen til vertex.",
            "CT caput: Ingen intrakraniell blødning. Ingen hyperdense kar. Ingen tidlige "
            "iskemiforandringer, ASPECTS 10.\n"
            "CT angiografi: Åpne halskar uten signifikante stenoser. Åpne intrakranielle "
            "arterier uten okklusjon eller aneurisme.",
            "Ingen blødning. Ingen storkarsokklusjon. ASPECTS 10.",
        ),
        procedure_codes=("CAA0SL",),
    ),
    TemplateSpec(
        "CT thorax med kontrast",
        "CT",
        _sections(
            "CT thorax med intravenøs kontrast i venøs fase. 1 mm rekonstruksjoner i "
            "bløtdels- og lungevindu.",
            "Lunger: Ingen infiltrater eller suspekte fortetninger. Ingen pleuravæske. Ingen "
            "pneumothorax.\n"
            "Mediastinum og hili: Ingen forstørrede lymfeknuter. Normal hjertestørrelse, ingen "
            "perikardvæske.\n"
            "Skjelett og bløtdeler: Ingen suspekte skjelettforandringer.\n"
            "Medfulgt øvre abdomen: Upåfallende.",
            "Ingen tegn til malignitet eller annen akutt patologi i thorax.",
        ),
        procedure_codes=("CCA0AB",),
    ),
    TemplateSpec(
        "CT lungeemboli",
        "CT",
        _sections(
            "CT angiografi av lungearteriene med bolustracking.",
            "God kontrastfylling av lungearteriene til subsegmentnivå, ingen fyllingsdefekter. "
            "Normal diameter av truncus pulmonalis. Ingen tegn til høyre ventrikkelbelastning. "
            "Ingen infiltrater. Ingen pleuravæske.",
            "Ingen lungeemboli.",
        ),
        procedure_codes=("CCA0LE",),
    ),
    TemplateSpec(
        "CT thorax/abdomen/bekken med kontrast",
        "CT",
        _sections(
            "CT thorax, abdomen og bekken med intravenøs kontrast i portovenøs fase.",
            "Thorax: Ingen suspekte lungeforandringer. Ingen pleuravæske. Ingen forstørrede "
            "lymfeknuter i mediastinum eller hili.\n"
            f"Abdomen og bekken: {ABDOMEN_FINDINGS}\n"
            "Skjelett: Ingen suspekte lesjoner.",
            "Ingen tegn til metastaser eller lokalavansert sykdom.",
        ),
        procedure_codes=("CCF0AB",),
    ),
    TemplateSpec(
        "CT abdomen/bekken med kontrast",
        "CT",
        _sections(
            "CT abdomen og bekken med intravenøs kontrast i portovenøs fase.",
            ABDOMEN_FINDINGS,
            "Ingen akutt patologi i abdomen eller bekken.",
        ),
        procedure_codes=("CFA0AB",),
    ),
    TemplateSpec(
        "MR kne",
        "MR",
        _sections(
            "MR kne med PD-vektede sekvenser med og uten fettmetning i tre plan og T1 koronalt.",
            KNEE_FINDINGS,
            "Normal MR kne.",
        ),
        procedure_codes=("MNG0AH", "MNG0AV"),
    ),
    TemplateSpec(
        "MR columna lumbalis",
        "MR",
        _sections(
            "Sagittale T1-, T2- og STIR-sekvenser, aksiale T2-sekvenser gjennom L3-S1.",
            "Normal lordose og alignment. Normal høyde av virvellegemene, ingen beinmargsødem. "
            "Conus ender normalt i nivå med L1.\n"
            "L3/L4: Ingen prolaps. Fri spinalkanal og foramina.\n"
            "L4/L5: Ingen prolaps. Fri spinalkanal og foramina.\n"
            "L5/S1: Ingen prolaps. Fri spinalkanal og foramina.",
            "Ingen prolaps eller tegn til nerverotaffeksjon.",
        ),
        procedure_codes=("MBE0AA",),
    ),
    TemplateSpec(
        "MR columna cervicalis",
        "MR",
        _sections(
            "Sagittale T1-, T2- og STIR-sekvenser, aksiale T2-sekvenser gjennom C3-Th1.",
            "Normal lordose og alignment. Normal signalgivning i medulla. Ingen beinmargsødem.\n"
            "C4/C5: Ingen prolaps. Fri spinalkanal og foramina.\n"
            "C5/C6: Ingen prolaps. Fri spinalkanal og foramina.\n"
            "C6/C7: Ingen prolaps. Fri spinalkanal og foramina.",
            "Ingen prolaps, spinal stenose eller rotaffeksjon.",
        ),
        procedure_codes=("MBC0AA",),
    ),
    TemplateSpec(
        "Rtg thorax to plan",
        "DX",
        _sections(
            "Rtg thorax PA og sideprojeksjon, stående.", CHEST_FINDINGS, "Normal rtg thorax."
        ),
        procedure_codes=("NCA0AT",),
    ),
    TemplateSpec(
        "Rtg thorax sengeliggende",
        "CR",
        _sections(
            "Rtg thorax AP, sengeliggende.",
            "Normal hjertestørrelse for projeksjonen. Ingen infiltrater eller stuvning. Ingen "
            "sikker pleuravæske. Ingen pneumothorax. Innlagte katetre og slanger i forventet "
            "posisjon.",
            "Ingen akutte forandringer.",
        ),
        procedure_codes=("NCA0SE",),
    ),
    TemplateSpec(
        "Mammografi screening",
        "MG",
        _mammography(
            "Mammografi bilateralt, kraniokaudale (CC) og mediolaterale oblique (MLO) "
            "projeksjoner.",
            "Ingen suspekte fortetninger, arkitekturforstyrrelser eller mikroforkalkninger "
            "bilateralt. Ingen forstørrede lymfeknuter i aksillene.",
            "Normal mammografi. Ny invitasjon i Mammografiprogrammet om to år.",
        ),
        procedure_codes=("GGA0SC",),
    ),
    TemplateSpec(
        "Mammografi klinisk bilateral",
        "MG",
        _mammography(
            "Mammografi bilateralt i CC- og MLO-projeksjoner, tilleggsprojeksjoner ved behov. "
            "Supplerende ultralyd av det aktuelle området.",
            "Høyre bryst: Ingen suspekte fortetninger, arkitekturforstyrrelser eller "
            "mikroforkalkninger.\n"
            "Venstre bryst: Ingen suspekte fortetninger, arkitekturforstyrrelser eller "
            "mikroforkalkninger. Ultralyd av det palpable området viser normalt kjertelvev.\n"
            "Aksiller: Ingen forstørrede lymfeknuter.",
            "Ingen holdepunkter for malignitet. Palpabel oppfylning bør likevel avklares "
            "klinisk; ny vurdering ved endring.",
        ),
        procedure_codes=("GGA0KL",),
    ),
    TemplateSpec(
        "Rtg skjelettalder",
        "DX",
        _sections(
            "Rtg venstre hånd og håndledd, dorsovolar projeksjon.",
            "Skjelettalder vurdert etter Greulich og Pyle tilsvarer __ år __ måneder ved "
            "kronologisk alder __ år __ måneder. Normal mineralisering. Ingen "
            "skjelettdysplasi.",
            "Skjelettalder i samsvar med kronologisk alder.",
        ),
        procedure_codes=("NXA0SA",),
    ),
    TemplateSpec(
        "Barneradiologi: rtg skjelett (DX)",
        "DX",
        _sections(
            "",
            "Alderstilsvarende skjelett med åpne vekstsoner. Ingen fraktur, epifysiolyse eller "
            "luksasjon. Normale bløtdeler.",
            "Ingen fraktur.",
        ),
        worklist="paediatric",
    ),
    TemplateSpec(
        "Barneradiologi: rtg (CR)",
        "CR",
        _sections(
            "",
            "Alderstilsvarende funn. Ingen fraktur eller luksasjon. Normale bløtdeler.",
            "Ingen patologi.",
        ),
        worklist="paediatric",
    ),
)

# Every demo worklist's fallback, for procedures without a template of their own: the standard
# four sections with bokmål titles, so no demo report starts with English headings.
WORKLIST_FALLBACKS: tuple[TemplateSpec, ...] = tuple(
    TemplateSpec(f"{name}: standard", "", _sections("", "", ""), worklist=code)
    for code, name in (
        ("neuro", "Nevroradiologi"),
        ("msk", "Muskel og skjelett"),
        ("thorax", "Thoraxradiologi"),
        ("cardiac", "Hjerteradiologi"),
        ("abdomen", "Abdominalradiologi"),
        ("mamma", "Mammaradiologi"),
        ("paediatric", "Barneradiologi"),
        ("emergency", "Akuttradiologi"),
        ("nuclear", "Nukleærmedisin"),
        ("general", "Generell"),
    )
)
