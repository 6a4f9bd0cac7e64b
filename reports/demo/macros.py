"""The demo's macros: a few shared in each worklist and a couple of rad01's own.

Pure data: (name, description, text). Synthetic bokmål phrasing; "__" marks a value to fill in.
"""

from __future__ import annotations

MacroSpec = tuple[str, str, str]

SHARED: dict[str, tuple[MacroSpec, ...]] = {
    "neuro": (
        (
            "normct",
            "Normal CT caput",
            "Ingen intrakraniell blødning. Normal differensiering mellom grå og hvit substans. "
            "Ingen masseeffekt. Ventrikelsystemet er normalt stort og midtstilt.",
        ),
        (
            "smakar",
            "Kronisk småkarsykdom",
            "Periventrikulære og subkortikale hypodense forandringer i hvit substans, forenlig "
            "med kronisk småkarsykdom.",
        ),
        ("atrofi", "Aldersforventet atrofi", "Aldersforventet sentral og kortikal atrofi."),
        (
            "ich",
            "Intraparenkymatøs blødning",
            "Hyperdens intraparenkymatøs blødning i __ lapp, ca. __ x __ mm, med omkringliggende "
            "ødem. Midtlinjeforskyvning __ mm. Ingen gjennombrudd til ventrikkelsystemet.",
        ),
        (
            "aspects",
            "Slag: ingen tidlige tegn",
            "Ingen hyperdense kar. Ingen tidlige iskemiforandringer, ASPECTS 10.",
        ),
    ),
    "thorax": (
        (
            "normrtg",
            "Normal rtg thorax",
            "Normal hjertestørrelse og mediastinalkontur. Ingen infiltrater eller stuvning. "
            "Frie sinus. Ingen pneumothorax.",
        ),
        (
            "pneumoni",
            "Pneumoni med kontroll",
            "Fortetning i __ lapp, forenlig med pneumoni. Anbefaler kontroll med rtg thorax "
            "om 6-8 uker for å sikre regress.",
        ),
        (
            "stuvning",
            "Lungestuvning",
            "Forstørret hjertesilhuett. Karomfordeling og økt interstitiell tegning, forenlig "
            "med lungestuvning. Små pleuravæskemengder bilateralt.",
        ),
        (
            "ingenle",
            "Ingen lungeemboli",
            "God kontrastfylling av lungearteriene til subsegmentnivå uten fyllingsdefekter. "
            "Ingen lungeemboli.",
        ),
        (
            "fleischner",
            "Liten lungeknute, lav risiko",
            "Solid lungeknute under 6 mm hos pasient med lav risiko: ingen kontroll nødvendig "
            "etter Fleischner Society-retningslinjene (2017).",
        ),
    ),
    "abdomen": (
        (
            "normabd",
            "Normal CT abdomen",
            "Lever, galleveier, milt, pankreas, binyrer og nyrer uten patologiske funn. Ingen "
            "fri væske eller fri luft. Ingen forstørrede lymfeknuter.",
        ),
        (
            "appendicitt",
            "Akutt appendicitt",
            "Fortykket, væskefylt appendiks med diameter ca. __ mm og periappendikulær "
            "fettvevsreaksjon, forenlig med akutt appendicitt. Ingen abscess eller fri luft.",
        ),
        (
            "divertikulitt",
            "Ukomplisert divertikulitt",
            "Divertikler i colon sigmoideum med veggfortykkelse og omkringliggende "
            "fettvevsreaksjon, forenlig med ukomplisert divertikulitt. Ingen abscess eller "
            "fri luft.",
        ),
    ),
    "msk": (
        (
            "normkne",
            "Normal MR kne",
            "Intakte menisker, korsbånd og kollateralligamenter. Normal leddbrusk. Ingen "
            "beinmargsødem.",
        ),
        (
            "menisk",
            "Medial meniskruptur",
            "Skrå ruptur i bakhornet av medial menisk med kontakt mot leddflaten på undersiden.",
        ),
        ("ingenfx", "Ingen fraktur", "Ingen fraktur eller luksasjon. Normale bløtdeler."),
        (
            "artrose",
            "Lett gonartrose",
            "Lett avsmalnet leddspalte medialt med subkondral sklerose og små osteofytter, "
            "forenlig med lett gonartrose.",
        ),
    ),
    "mamma": (
        ("bi1", "BI-RADS 1", "BI-RADS 1: normal mammografi."),
        ("bi2", "BI-RADS 2", "BI-RADS 2: benigne funn."),
        (
            "bi3",
            "BI-RADS 3",
            "BI-RADS 3: sannsynlig benignt funn. Anbefaler kontroll om 6 måneder.",
        ),
        (
            "bi4",
            "BI-RADS 4",
            "BI-RADS 4: suspekt funn. Anbefaler ultralydveiledet grovnålsbiopsi.",
        ),
        (
            "bi5",
            "BI-RADS 5",
            "BI-RADS 5: høy mistanke om malignitet. Anbefaler biopsi og henvisning i "
            "pakkeforløp for brystkreft.",
        ),
        ("acrb", "Tetthet ACR B", "ACR B: spredte områder med fibroglandulært vev."),
        (
            "acrc",
            "Tetthet ACR C",
            "ACR C: heterogent tett kjertelvev, som kan skjule små lesjoner.",
        ),
    ),
    "paediatric": (
        (
            "normbarn",
            "Normalt barneskjelett",
            "Alderstilsvarende skjelett med åpne vekstsoner. Ingen fraktur eller epifysiolyse.",
        ),
        (
            "barnthorax",
            "Normal rtg thorax, barn",
            "Normal thymusskygge. Normal hjertestørrelse. Ingen infiltrater. Frie sinus.",
        ),
        ("gp", "Greulich og Pyle", "Skjelettalder vurdert etter Greulich og Pyle."),
    ),
    "emergency": (
        (
            "traume",
            "Ingen traumeskade",
            "Ingen tegn til intrakraniell, thorakal eller abdominal traumeskade. Ingen fraktur "
            "i columna eller bekken.",
        ),
    ),
    "general": (
        ("sml", "Sammenligning", "Sammenlignet med forrige undersøkelse av __:"),
        ("uendret", "Uendret", "Uendret i forhold til forrige undersøkelse."),
    ),
}

PERSONAL_OWNER = "rad01"
PERSONAL: tuple[MacroSpec, ...] = (
    # The same name as the neuro worklist's: in rad01's editor her own wins.
    (
        "normct",
        "Min normalbeskrivelse",
        "Ingen blødning, ingen infarkt og ingen ekspansiv prosess. Normale ventrikler og "
        "cisterner.",
    ),
    (
        "kontroll",
        "Kontroll MR om 3 mnd",
        "Anbefaler kontroll med MR caput med kontrast om 3 måneder.",
    ),
    ("tlf", "Meddelt per telefon", "Funnet er meddelt rekvirerende lege per telefon."),
)
