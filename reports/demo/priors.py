"""What the demo's signed reports say: per procedure code a few findings and conclusions, the
template's normal text among them; a plain normal report for the other procedures.

Pure data. Synthetic bokmål text written for the demo.
"""

from __future__ import annotations

# (findings, conclusion) or, for mammography, (findings, conclusion, BI-RADS per breast)
Finding = tuple[str, ...]

ABNORMAL: dict[str, tuple[Finding, ...]] = {
    "CAA0AA": (
        (
            "Periventrikulære hypodense forandringer i hvit substans, forenlig med kronisk "
            "småkarsykdom. Aldersforventet atrofi. Ingen intrakraniell blødning. Ingen "
            "masseeffekt.",
            "Kronisk småkarsykdom. Ingen akutt intrakraniell patologi.",
        ),
        (
            "Tynt subduralt hematom over høyre hemisfære, maksimal tykkelse 6 mm, uten "
            "midtlinjeforskyvning. Ingen fraktur.",
            "Lite akutt subduralt hematom til høyre. Formidlet til rekvirent.",
        ),
    ),
    "CCA0AB": (
        (
            "Spikulert fortetning i høyre overlapp, 23 x 18 mm. Forstørret lymfeknute i "
            "stasjon 4R, 14 mm i kortakse. Ingen pleuravæske.",
            "Malignitetssuspekt tumor i høyre overlapp med mistenkt lymfeknutespredning "
            "mediastinalt. Anbefaler PET-CT og vurdering i lungemøte.",
        ),
    ),
    "CCA0LE": (
        (
            "Fyllingsdefekter i segmentarterier til høyre underlapp og i lingula. Ingen tegn "
            "til høyre ventrikkelbelastning. Lite infarktsuspekt infiltrat basalt til høyre.",
            "Lungeemboli bilateralt uten tegn til høyre ventrikkelbelastning.",
        ),
    ),
    "CCF0AB": (
        (
            "To hypodense lesjoner i leveren, største 15 mm i segment 7, suspekte på "
            "metastaser. Veggfortykkelse i colon sigmoideum forenlig med kjent tumor. Ingen "
            "suspekte lungeforandringer.",
            "Mistanke om levermetastaser. Anbefaler MR lever for nærmere karakterisering.",
        ),
    ),
    "CFA0AB": (
        (
            "Fortykket appendiks, 11 mm i diameter, med periappendikulær fettvevsreaksjon. "
            "Ingen abscess eller fri luft.",
            "Akutt appendicitt.",
        ),
        (
            "Divertikler i colon sigmoideum med veggfortykkelse og omkringliggende "
            "fettvevsreaksjon. Ingen abscess eller fri luft.",
            "Ukomplisert divertikulitt i colon sigmoideum.",
        ),
    ),
    "MNG0AH": (
        (
            "Skrå ruptur i bakhornet av medial menisk med kontakt mot leddflaten på "
            "undersiden. Intakte korsbånd. Lett leddvæske.",
            "Ruptur i bakhornet av medial menisk.",
        ),
        (
            "Fremre korsbånd er diskontinuerlig med ødem i restene. Beinmargsødem i laterale "
            "femurkondyl og bakre del av laterale tibiaplatå. Intakte menisker.",
            "Total ruptur av fremre korsbånd med typisk kontusjonsmønster.",
        ),
    ),
    "MBE0AA": (
        (
            "L4/L5: Høyresidig paramedian prolaps som avklemmer L5-roten i recessus lateralis. "
            "L5/S1: Diskdegenerasjon med lett bulging, ingen rotaffeksjon.",
            "Prolaps L4/L5 med affeksjon av høyre L5-rot.",
        ),
    ),
    "NCA0AT": (
        (
            "Fortetning i høyre underlapp med luftbronkogram. Normal hjertestørrelse. Frie sinus.",
            "Pneumoni i høyre underlapp. Anbefaler kontroll om 6-8 uker.",
        ),
        (
            "Forstørret hjertesilhuett. Karomfordeling og økt interstitiell tegning. Små "
            "pleuravæskemengder bilateralt.",
            "Lungestuvning.",
        ),
    ),
    "GGA0SC": (
        (
            "Gruppert amorfe mikroforkalkninger, 8 mm utbredelse, øvre ytre kvadrant i "
            "venstre bryst. Høyre bryst uten suspekte funn.",
            "Mikroforkalkninger i venstre bryst, BI-RADS 4. Innkalles til "
            "tilleggsundersøkelse med stereotaktisk biopsi.",
            "Høyre: BI-RADS 1. Venstre: BI-RADS 4.",
        ),
    ),
    "GGA0KL": (
        (
            "Venstre bryst: Uskarpt avgrenset fortetning 16 mm klokken 2, med tilsvarende "
            "hypoekkogen lesjon på ultralyd. Høyre bryst uten suspekte funn. Ingen forstørrede "
            "aksillære lymfeknuter.",
            "Malignitetssuspekt tumor i venstre bryst, BI-RADS 5. Ultralydveiledet "
            "grovnålsbiopsi er tatt. Pakkeforløp for brystkreft.",
            "Høyre: BI-RADS 1. Venstre: BI-RADS 5.",
        ),
    ),
}

# For the procedures without a template: one plain normal report per modality.
PLAIN: dict[str, Finding] = {
    "CT": ("Ingen patologiske funn i det undersøkte området.", "Normal CT-undersøkelse."),
    "MR": ("Normal signalgivning. Ingen patologiske funn.", "Normal MR-undersøkelse."),
    "DX": ("Ingen fraktur eller luksasjon. Normale bløtdeler.", "Ingen patologi."),
    "CR": ("Ingen fraktur eller luksasjon. Normale bløtdeler.", "Ingen patologi."),
    "US": ("Normale ultralydforhold i det undersøkte området.", "Normal ultralyd."),
    "MG": ("Ingen suspekte funn bilateralt.", "BI-RADS 1: normal mammografi."),
    "NM": ("Fysiologisk opptak. Ingen patologisk økt opptak.", "Normal scintigrafi."),
    "PT": ("Ingen patologisk FDG-opptak.", "Ingen holdepunkter for aktiv sykdom."),
}
DEFAULT_PLAIN: Finding = ("Ingen patologiske funn.", "Normal undersøkelse.")
