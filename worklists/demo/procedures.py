"""What the demo sites order: procedures, their priority mix and the referrals' clinical questions.

Pure data, no database access.
"""

from __future__ import annotations

from dataclasses import dataclass

from worklists.models import Priority


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

# The letters ProcedureSpec.priorities is written in.
PRIORITY_LETTERS = {
    "S": Priority.STAT,
    "U": Priority.URGENT,
    "C": Priority.CANCER_PATHWAY,
    "R": Priority.ROUTINE,
}
