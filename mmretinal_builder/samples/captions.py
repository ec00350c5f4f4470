"""Caption, sub-caption, body-text and table text for the sample books (English, Chinese, Spanish, German,
Portuguese, French).

A caption is kept structured (label, preamble, panel segments) so the ground truth can state the full
caption and every panel's sub-caption exactly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .text import CJK_FONT, NBSP, normalise, split_runs
from .vocab import (
    DISEASE_BY_KEY,
    EYES_EN,
    EYES_ZH,
    FFA_PHASE_EN,
    FFA_PHASE_ZH,
    FINDINGS_DE,
    FINDINGS_ES,
    FINDINGS_FR,
    FINDINGS_PT,
    IMAGE_IDS,
    MODALITY_NAME,
    SEX_EN,
    SEX_ZH,
    Disease,
)


@dataclass(frozen=True)
class LabelStyle:
    """How a book prints figure and table labels, e.g. 'Fig. 3-12 ', 'Figure 2.5: ', '图 3-12．'."""

    word: str  # "Fig.", "Figure", "FIG.", "图", "Figura", "Abb."
    chapter_sep: str | None  # "-", "." or None for book-wide numbering
    after: str  # printed after the number: " ", ": ", ". ", "．", "：" ...
    table_word: str  # "Table", "表", "Tabla", "Tab."
    lang: str  # caption language: en, zh, es, de

    def number(self, chapter: int, n: int) -> str:
        return f"{chapter}{self.chapter_sep}{n}" if self.chapter_sep else str(n)

    def label(self, number: str, table: bool = False) -> str:
        """The label as the ground truth records it (plain spaces)."""
        return f"{self.table_word if table else self.word} {number}"

    def printed(self, number: str, table: bool = False) -> str:
        """The label as printed: a no-break space inside, then the separator."""
        return f"{self.table_word if table else self.word}{NBSP}{number}{self.after}"


@dataclass
class Segment:
    """One panel segment of a caption: the panels it describes, its printed head ('(a)', 'A．') and text."""

    letters: tuple[str, ...]
    head: str
    body: str


@dataclass
class Caption:
    """A figure caption: label, shared preamble, per-panel segments."""

    lang: str
    label: str
    printed_label: str
    preamble: str
    segments: list[Segment] = field(default_factory=list)
    bold_label: bool = True
    bold_heads: bool = False

    @property
    def joiner(self) -> str:
        return "" if self.lang == "zh" else " "

    def _seg_text(self, seg: Segment) -> str:
        return f"{seg.head}{self.joiner}{seg.body}" if self.lang != "zh" else f"{seg.head}{seg.body}"

    def printed(self) -> str:
        """Every character as printed (with no-break spaces), before wrapping."""
        parts = [self.printed_label + self.preamble]
        parts += [self._seg_text(s) for s in self.segments]
        out = parts[0]
        for p in parts[1:]:
            out += (self.joiner if out and not out.endswith(" ") else "") + p
        return out

    def text(self) -> str:
        """The caption a reader sees: single spaces (the ground truth)."""
        return normalise(self.printed().replace(NBSP, " "))

    def panel_caption(self, letter: str) -> str:
        """Preamble (all text before the first panel head) plus every segment naming this panel."""
        head = normalise((self.printed_label + self.preamble).replace(NBSP, " "))
        segs = [self._seg_text(s) for s in self.segments if letter in s.letters]
        out = head
        for s in segs:
            out += self.joiner + s
        return normalise(out)

    def runs(self, regular: str, bold: str) -> list[tuple[str, str]]:
        """(text, font) runs: bold label (and optionally bold panel heads), CJK text in the CJK font."""
        runs: list[tuple[str, str]] = []

        def add(text: str, font: str) -> None:
            for t, f in split_runs(text, font):
                if runs and runs[-1][1] == f:
                    runs[-1] = (runs[-1][0] + t, f)
                else:
                    runs.append((t, f))

        lab = self.printed_label
        add(lab, bold if self.bold_label else regular)
        add(self.preamble, regular)
        for seg in self.segments:
            if runs and not runs[-1][0].endswith(" ") and self.joiner:
                add(self.joiner, regular)
            add(seg.head, bold if self.bold_heads else regular)
            if self.joiner:
                add(self.joiner, regular)
            add(seg.body, regular)
        return runs


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _plural(name: str) -> str:
    return name[:-1] + "ies" if name.endswith("y") else name + "s"


def _letters(n: int, upper: bool) -> list[str]:
    return [chr((ord("A") if upper else ord("a")) + i) for i in range(n)]


@dataclass(frozen=True)
class HeadStyle:
    """How panel heads are printed in captions (and matching letters on the panels)."""

    name: str  # paren, upper-dot, upper-paren, zh-dot, zh-paren
    upper: bool

    def single(self, letter: str) -> str:
        return {"paren": f"({letter})", "upper-dot": f"{letter}.", "upper-paren": f"({letter})",
                "zh-dot": f"{letter}．", "zh-paren": f"（{letter}）"}[self.name]

    def group(self, letters: list[str], rng: random.Random) -> str:
        if len(letters) == 1:
            return self.single(letters[0])
        a, b = letters[0], letters[-1]
        if self.name.startswith("zh"):
            inner = "、".join(letters) if len(letters) == 2 else f"{a}-{b}"
            return f"{inner}．" if self.name == "zh-dot" else f"（{inner}）"
        inner = f"{a} and {b}" if len(letters) == 2 and rng.random() < 0.7 else f"{a}-{b}"
        return f"{inner}." if self.name == "upper-dot" else f"({inner})"


HEAD_STYLES = {
    "en": (HeadStyle("paren", False), HeadStyle("upper-dot", True), HeadStyle("upper-paren", True)),
    "zh": (HeadStyle("zh-dot", True), HeadStyle("zh-paren", True)),
    "es": (HeadStyle("paren", False), HeadStyle("upper-paren", True)),
    "de": (HeadStyle("paren", False),),
    "pt": (HeadStyle("paren", False), HeadStyle("upper-paren", True)),
    "fr": (HeadStyle("paren", False),),
}
#: findings of the languages with a small generic vocabulary
FOREIGN_FINDINGS = {"es": FINDINGS_ES, "de": FINDINGS_DE, "pt": FINDINGS_PT, "fr": FINDINGS_FR}


def _mod_name(mod: str, lang: str, rng: random.Random) -> str:
    return rng.choice(MODALITY_NAME[mod][lang])


def _finding(d: Disease, mod: str, lang: str, rng: random.Random) -> str:
    if lang in FOREIGN_FINDINGS:
        return rng.choice(FOREIGN_FINDINGS[lang])
    pool = {("CFP", "en"): d.cfp_en, ("FFA", "en"): d.ffa_en, ("OCT", "en"): d.oct_en,
            ("CFP", "zh"): d.cfp_zh, ("FFA", "zh"): d.ffa_zh, ("OCT", "zh"): d.oct_zh}[(mod, lang)]
    return rng.choice(pool)


def _patient_en(d: Disease, rng: random.Random) -> str:
    return rng.choice([
        f"{_cap(d.name['en'])} in the {rng.choice(EYES_EN)} eye of a {rng.randint(24, 82)}-year-old "
        f"{rng.choice(SEX_EN)}.",
        f"{_cap(d.name['en'])}.",
        f"A {rng.randint(24, 82)}-year-old {rng.choice(SEX_EN)} with {d.name['en']}.",
    ])


def _patient_zh(d: Disease, rng: random.Random) -> str:
    return rng.choice([
        f"患者{rng.choice(SEX_ZH)}，{rng.randint(24, 82)}岁，{rng.choice(EYES_ZH)}眼{d.name['zh']}。",
        f"{d.name['zh']}。",
    ])


def _extra_en(d: Disease, rng: random.Random, arrows: bool) -> list[str]:
    out = []
    if arrows:
        out.append(rng.choice(["Arrows indicate the lesions described in the text.",
                               "The arrow points to the area of greatest change.",
                               "Yellow arrows mark the principal lesions."]))
    if rng.random() < 0.5:
        out.append(rng.choice([
            f"Best-corrected visual acuity was {rng.choice(['6/6', '6/9', '6/12', '6/18', '6/36', '20/40', '20/200'])}.",
            "Compare with the fellow eye in the following figure.",
            "Note the normal appearance of the peripheral retina.",
            f"The findings resolved after {rng.choice(['three', 'four', 'six'])} months of treatment.",
        ]))
    return out


def single_caption(style: LabelStyle, number: str, d: Disease, mod: str, rng: random.Random,
                   arrows: bool = False) -> Caption:
    """Caption of a one-image retinal figure: two to four sentences."""
    lang = style.lang
    if lang == "en":
        f1 = _finding(d, mod, lang, rng)
        mname = _mod_name(mod, lang, rng)
        if mod == "FFA":
            first = f"{mname} of the {rng.choice(EYES_EN)} eye in the {rng.choice(FFA_PHASE_EN)} phase showing {f1}."
        elif mod == "OCT":
            first = f"{mname} through the fovea of a patient with {d.name['en']} demonstrating {f1}."
        else:
            first = rng.choice([f"{mname} of the {rng.choice(EYES_EN)} eye showing {f1}.",
                                f"{_cap(d.name['en'])}: {mname.lower() if mname[1].islower() else mname} "
                                f"with {f1}."])
        sents = [first]
        f2 = _finding(d, mod, lang, rng)
        if f2 != f1 and rng.random() < 0.8:
            sents.append(f"There is also {f2}.")
        sents += _extra_en(d, rng, arrows)
        pre = " ".join(sents)
    elif lang == "zh":
        f1 = _finding(d, mod, lang, rng)
        f2 = _finding(d, mod, lang, rng)
        mname = _mod_name(mod, lang, rng)
        phase = rng.choice(FFA_PHASE_ZH) if mod == "FFA" else ""
        pre = f"{d.name['zh']}{mname}{phase}。{_patient_zh(d, rng)}可见{f1}"
        pre += f"，{f2}。" if f2 != f1 else "。"
        if arrows:
            pre += "箭头示主要病变。"
    else:
        pre = _foreign_single(lang, d, mod, rng)
    return Caption(lang, style.label(number), style.printed(number), pre,
                   bold_label=rng.random() < 0.75)


def _foreign_single(lang: str, d: Disease, mod: str, rng: random.Random) -> str:
    mname = _mod_name(mod, lang, rng)
    f1, f2 = rng.sample(FOREIGN_FINDINGS[lang], 2)
    age = rng.randint(30, 85)
    if lang == "es":
        return rng.choice([f"{mname} de un paciente de {age} años con {d.name['es']}. Se observan {f1}.",
                           f"{mname} de un paciente con {d.name['es']}: {f1} y {f2}.",
                           f"{mname}. Se observan {f1}; además, {f2}."]) + _image_id(lang, rng)
    if lang == "pt":
        return rng.choice([f"{mname} de um paciente de {age} anos com {d.name['pt']}. Observam-se {f1}.",
                           f"{mname} de um paciente com {d.name['pt']}: {f1} e {f2}.",
                           f"{mname}. Observam-se {f1}; além disso, {f2}."]) + _image_id(lang, rng)
    if lang == "fr":
        # French typography: a space before ":" and ";" (the reader sees it, the ground truth keeps it)
        return rng.choice([f"{mname} d'un patient de {age} ans atteint de {d.name['fr']}. On observe {f1}.",
                           f"{mname} chez un patient atteint de {d.name['fr']} : {f1} et {f2}.",
                           f"{mname}. On note {f1} ; en outre, {f2}."]) + _image_id(lang, rng)
    return rng.choice([f"{mname} bei {d.name['de']}: {f1}.",
                       f"{mname} eines {age}-jährigen Patienten bei {d.name['de']}. Es zeigen sich {f1}.",
                       f"{mname}: {f1}, außerdem {f2}."])


def _image_id(lang: str, rng: random.Random) -> str:
    """Now and then the dataset file the image comes from (``Image_05L``): an underscore a reader sees."""
    if rng.random() >= 0.35:
        return ""
    word = {"es": "Imagen", "pt": "Imagem", "fr": "Image"}[lang]
    return f" {word} {rng.choice(IMAGE_IDS)}."


def compound_caption(style: LabelStyle, number: str, d: Disease, mods: list[str], rng: random.Random,
                     story: str, head: HeadStyle, diseases: list[Disease] | None = None) -> Caption:
    """Caption of a multi-panel figure: preamble plus one segment per panel or group of panels.

    `story`: multimodal (different modalities), series (same modality over time), bilateral (two eyes),
    gallery (one disease per panel, `diseases` given).
    """
    lang = style.lang
    letters = _letters(len(mods), head.upper)
    groups: list[list[int]] = []
    i = 0
    while i < len(mods):  # group runs of the same modality sometimes: (a-c), (a and b), A、B．
        j = i
        while j + 1 < len(mods) and mods[j + 1] == mods[i] and story != "gallery":
            j += 1
        if j > i and rng.random() < 0.6:
            groups.append(list(range(i, j + 1)))
        else:
            groups.extend([k] for k in range(i, j + 1))
        i = j + 1
    segs: list[Segment] = []
    for gi, g in enumerate(groups):
        mod = mods[g[0]]
        dd = diseases[g[0]] if diseases else d
        hd = head.group([letters[k] for k in g], rng)
        last = gi == len(groups) - 1
        segs.append(Segment(tuple(letters[k].lower() for k in g), hd, _segment_body(lang, mod, dd, len(g), story,
                                                                                    rng, last)))
    if story == "gallery":
        pre = {"en": rng.choice(["Examples of retinal lesions commonly observed in clinical practice.",
                                 "Typical fundus appearances of common retinal diseases."]),
               "zh": "常见眼底病的典型表现。", "es": "Ejemplos de lesiones retinianas frecuentes.",
               "de": "Typische Befunde häufiger Netzhauterkrankungen.",
               "pt": "Exemplos de lesões retinianas frequentes.", "fr": "Exemples de lésions rétiniennes fréquentes."}[lang]
    elif lang == "en":
        pre = _patient_en(d, rng)
    elif lang == "zh":
        pre = _patient_zh(d, rng)
    elif lang == "es":
        pre = f"Paciente con {d.name['es']}."
    elif lang == "pt":
        pre = f"Paciente com {d.name['pt']}."
    elif lang == "fr":
        pre = f"Patient atteint de {d.name['fr']}."
    else:
        pre = f"Patient mit {d.name['de']}."
    if rng.random() < 0.12 and lang == "en":
        pre = ""  # caption goes straight to '(a) ...'
    return Caption(lang, style.label(number), style.printed(number), pre, segs,
                   bold_label=rng.random() < 0.75, bold_heads=rng.random() < 0.4)


def _segment_body(lang: str, mod: str, d: Disease, n: int, story: str, rng: random.Random, last: bool) -> str:
    f = _finding(d, mod, lang, rng)
    mname = _mod_name(mod, lang, rng)
    if lang == "zh":
        end = "。" if last else "；"
        if story == "gallery":
            return f"{d.name['zh']}，{mname}示{f}{end}"
        if n > 1:
            when = "治疗前后" if story == "series" else "双眼"
            return f"{when}{mname}，均示{f}{end}"
        phase = rng.choice(FFA_PHASE_ZH) if mod == "FFA" else ""
        return f"{mname}{phase}示{f}{end}"
    if lang in ("es", "de", "pt"):
        return f"{mname}: {f}."
    if lang == "fr":
        return f"{mname} : {f}."
    if story == "gallery":
        return f"{_cap(d.name['en'])}, with {f}."
    if n > 1:
        if story == "bilateral" or n == 2 and rng.random() < 0.5:
            return f"{_plural(mname)} of the right and left eyes showing {f}."
        times = ", ".join(["baseline", "1 month", "3 months", "6 months", "12 months"][: n - 1])
        return f"{_plural(mname)} at {times} and {['2', '18', '24'][n % 3]} months showing {f}."
    if mod == "FFA":
        return f"{mname} in the {rng.choice(FFA_PHASE_EN)} phase reveals {f}."
    if mod == "OCT":
        return rng.choice([f"{mname} through the fovea demonstrates {f}.", f"{mname} shows {f}."])
    return rng.choice([f"{mname} showing {f}.", f"{_cap(f)}."])


# {n}, {year} and {site} are filled at random so two charts in one book rarely share a caption
VECTOR_CAPTIONS = {
    "bar": {
        "en": ("Proportion of eyes in each retinopathy severity grade at the screening visit (n = {n} eyes). "
               "Bars show the percentage of eyes.",
               "Distribution of referral diagnoses in the {year} screening round at {site}. Most referrals were "
               "for diabetic maculopathy."),
        "zh": ("{year}年筛查时各级糖尿病视网膜病变的眼数构成比（n={n}）。", "{site}眼底病门诊转诊诊断构成（{year}年）。"),
        "es": ("Distribución de los diagnósticos de derivación en el cribado de {year} (n = {n}).",),
        "de": ("Verteilung der Überweisungsdiagnosen im Screening {year} (n = {n}).",),
        "pt": ("Distribuição dos diagnósticos de encaminhamento no rastreio de {year} (n = {n}).",),
        "fr": ("Répartition des diagnostics d'adressage lors du dépistage de {year} (n = {n}).",),
    },
    "line": {
        "en": ("Mean central subfield thickness during twelve months of anti-VEGF therapy (n = {n} eyes). Error "
               "bars indicate the standard deviation.",
               "Change in best-corrected visual acuity after treatment, by treatment group, {site} cohort. "
               "Values are means of ETDRS letters."),
        "zh": ("抗VEGF治疗12个月内黄斑中心视网膜厚度的变化（n={n}），误差线为标准差。",),
        "es": ("Grosor macular central durante doce meses de tratamiento (n = {n}).",),
        "de": ("Zentrale Netzhautdicke während zwölf Monaten Therapie (n = {n}).",),
        "pt": ("Espessura macular central durante doze meses de tratamento (n = {n}).",),
        "fr": ("Épaisseur maculaire centrale pendant douze mois de traitement (n = {n}).",),
    },
    "eye": {
        "en": ("Schematic cross-section of the human eye showing the cornea, lens, vitreous cavity and the "
               "layers of the posterior wall.",
               "Diagram of the eye. The retina lines the posterior segment and the macula lies temporal to the "
               "optic nerve head.",
               "Anatomy of the globe in horizontal section, with the structures imaged in this chapter labelled."),
        "zh": ("眼球剖面示意图，示角膜、晶状体、玻璃体腔及眼球后壁各层结构。", "眼球水平切面解剖示意图。"),
        "es": ("Esquema de un corte del globo ocular.", "Anatomía del globo ocular en un corte horizontal."),
        "de": ("Schematischer Schnitt durch das Auge.", "Anatomie des Bulbus im Horizontalschnitt."),
        "pt": ("Esquema de um corte do globo ocular.", "Anatomia do globo ocular em corte horizontal."),
        "fr": ("Schéma d'une coupe du globe oculaire.", "Anatomie du globe oculaire en coupe horizontale."),
    },
    "flow": {
        "en": ("Screening pathway for diabetic retinopathy at {site}. Images graded as referable are sent to the "
               "retina clinic; the others are recalled after one year.",),
        "zh": ("{site}糖尿病视网膜病变筛查流程图。",),
        "es": ("Circuito de cribado de la retinopatía diabética en {site}.",),
        "de": ("Ablauf des Screenings auf diabetische Retinopathie in {site}.",),
        "pt": ("Circuito de rastreio da retinopatia diabética em {site}.",),
        "fr": ("Circuit de dépistage de la rétinopathie diabétique à {site}.",),
    },
    "flow-thumbs": {
        "en": ("Grading workflow at {site}: fundus photographs are graded by two readers and disagreements are "
               "adjudicated by a senior grader.",),
        "zh": ("{site}眼底照片分级流程：两名阅片者独立分级，意见不一致时由高年资医师裁定。",),
        "es": ("Flujo de trabajo de la gradación de retinografías en {site}.",),
        "de": ("Ablauf der Befundung von Fundusfotos durch zwei Leser in {site}.",),
        "pt": ("Fluxo de trabalho da graduação de retinografias em {site}.",),
        "fr": ("Circuit de lecture des rétinographies par deux lecteurs à {site}.",),
    },
    "device": {
        "en": ("Non-mydriatic fundus camera used in the {year} screening programme.",
               "The retinal camera set up for imaging at {site}. The patient rests the chin on the support."),
        "zh": ("{site}使用的免散瞳眼底照相机。",),
        "es": ("Cámara de fondo de ojo no midriática usada en {site}.",),
        "de": ("Non-mydriatische Funduskamera in {site}.",),
        "pt": ("Câmara de fundo de olho não midriática usada em {site}.",),
        "fr": ("Rétinographe non mydriatique utilisé à {site}.",),
    },
    "external": {
        "en": ("External photograph of the anterior segment of the same patient. The cornea is clear.",
               "Anterior segment photograph taken at the {year} visit; the lens is clear."),
        "zh": ("同一患者眼前节外观像，角膜透明。", "{year}年复诊时眼前节照相，晶状体透明。"),
        "es": ("Fotografía del segmento anterior del mismo paciente en {year}.",),
        "de": ("Vorderabschnittsfoto desselben Patienten ({year}).",),
        "pt": ("Fotografia do segmento anterior do mesmo paciente em {year}.",),
        "fr": ("Photographie du segment antérieur du même patient en {year}.",),
    },
    "rchart": {
        "en": ("Number of patients examined per month at {site} during {year}.",),
        "zh": ("{year}年{site}每月就诊患者数。",),
        "es": ("Número de pacientes examinados por mes en {site} durante {year}.",),
        "de": ("Anzahl untersuchter Patienten pro Monat in {site} ({year}).",),
        "pt": ("Número de pacientes examinados por mês em {site} durante {year}.",),
        "fr": ("Nombre de patients examinés par mois à {site} en {year}.",),
    },
}
SITES = {"en": ("Moorfields", "the district hospital", "the regional centre", "the community clinic", "site B"),
         "zh": ("本院", "社区医院", "区域中心", "协作医院"),
         "es": ("el hospital comarcal", "el centro regional", "Valencia"),
         "de": ("der Universitäts-Augenklinik", "der Schwerpunktpraxis", "Heidelberg"),
         "pt": ("o hospital regional", "o centro de referência", "Lisboa"),
         "fr": ("l'hôpital régional", "le centre de référence", "Lyon")}


def other_caption(style: LabelStyle, number: str, what: str, rng: random.Random) -> Caption:
    """Caption of a non-retinal figure (charts, diagrams, device or external photographs)."""
    pre = rng.choice(VECTOR_CAPTIONS[what][style.lang]).format(
        n=rng.randint(80, 4800), year=rng.randint(2008, 2023), site=rng.choice(SITES[style.lang]))
    return Caption(style.lang, style.label(number), style.printed(number), pre, bold_label=rng.random() < 0.75)


# --- body text ------------------------------------------------------------------------------------------

def body_paragraph(lang: str, d: Disease, refs: list[str], rng: random.Random, lead_ref: bool = False) -> str:
    """A paragraph of running text that cites figures ('as shown in Fig. 3-2', '见图3-12').

    With `lead_ref`, the paragraph starts with the reference ('Figure 3-2 shows ...'), a classic false caption.
    """
    if lang == "zh":
        return _body_zh(d, refs, rng, lead_ref)
    if lang in ("es", "de", "pt", "fr"):
        return _body_foreign(lang, d, refs, rng)
    sents = []
    ref = refs[0] if refs else None
    if ref and lead_ref:
        sents.append(f"{ref} shows the typical appearance of {d.name['en']}, with {rng.choice(d.cfp_en or ('a normal fundus',))}.")
    pool = [
        f"{_cap(d.name['en'])} is characterised by {rng.choice(d.cfp_en or ('a normal fundus',))}.",
        f"On fluorescein angiography the typical finding is {rng.choice(d.ffa_en or ('a normal transit',))}.",
        f"Optical coherence tomography demonstrates {rng.choice(d.oct_en or ('a normal foveal contour',))}, which "
        "correlates with the loss of visual acuity.",
        "The condition is frequently bilateral, although the two eyes are often affected asymmetrically.",
        "Careful examination of the peripheral retina with indirect ophthalmoscopy is essential.",
        "Patients may be asymptomatic in the early stages, so regular screening is recommended.",
        "The differential diagnosis includes hypertensive retinopathy, radiation retinopathy and ocular "
        "ischaemic syndrome.",
        "Treatment is directed at the underlying cause and at the complications that threaten vision.",
        "Intravitreal anti-VEGF injections have become the first-line treatment for centre-involving oedema.",
        "Follow-up intervals depend on the severity of the findings at presentation.",
    ]
    rng.shuffle(pool)
    sents += pool[: rng.randint(3, 6)]
    for r in refs[1 if lead_ref else 0:]:
        pos = rng.randint(0, len(sents))
        sents.insert(pos, rng.choice([
            f"As shown in {r}, the lesions are concentrated at the posterior pole.",
            f"These changes are illustrated in {r}.",
            f"The angiographic features are summarised in {r} and discussed below.",
            f"A comparable case is presented in {r}.",
        ]))
    return " ".join(sents)


def _body_zh(d: Disease, refs: list[str], rng: random.Random, lead_ref: bool) -> str:
    refs_c = [r.replace(" ", "") for r in refs]  # body text writes 图3-12 without a space
    sents = []
    if refs_c and lead_ref:
        sents.append(f"{refs_c[0]}显示{d.name['zh']}的典型眼底表现，可见{rng.choice(d.cfp_zh or ('眼底未见异常',))}。")
    pool = [
        f"{d.name['zh']}的主要眼底表现为{rng.choice(d.cfp_zh or ('眼底未见明显异常',))}。",
        f"荧光素眼底血管造影可见{rng.choice(d.ffa_zh or ('循环时间正常',))}。",
        f"OCT检查可见{rng.choice(d.oct_zh or ('黄斑结构正常',))}，与视力下降程度相关。",
        "本病多为双眼发病，但两眼病变程度常不对称。",
        "早期患者可无自觉症状，因此定期眼底检查十分重要。",
        "治疗包括控制全身危险因素、激光光凝及玻璃体腔注药等。",
        "随访间隔应根据初诊时病变的严重程度确定。",
    ]
    rng.shuffle(pool)
    sents += pool[: rng.randint(3, 5)]
    for r in refs_c[1 if lead_ref else 0:]:
        pos = rng.randint(0, len(sents))
        sents.insert(pos, rng.choice([f"病变主要位于后极部（见{r}）。", f"如{r}所示，病灶沿血管弓分布。",
                                      f"典型病例见{r}。"]))
    return "".join(sents)


BODY_ES = ("El diagnóstico se basa en la exploración del fondo de ojo y en las pruebas de imagen.",
           "El tratamiento depende de la gravedad de los hallazgos.",
           "La tomografía de coherencia óptica permite cuantificar el grosor macular.",
           "La angiografía con fluoresceína muestra las zonas de isquemia y de fuga.",
           "Los pacientes pueden estar asintomáticos en las fases iniciales.",
           "El seguimiento se adapta a la evolución de cada caso.",
           "La agudeza visual no siempre refleja la extensión de las lesiones.")
BODY_DE = ("Die Diagnose stützt sich auf die Funduskopie und die Bildgebung.",
           "Die Therapie richtet sich nach dem Schweregrad der Befunde.",
           "Die optische Kohärenztomographie erlaubt eine Messung der Netzhautdicke.",
           "Die Fluoreszeinangiographie zeigt Ischämie und Leckage.",
           "Im Frühstadium sind die Patienten oft beschwerdefrei.",
           "Die Kontrollintervalle richten sich nach dem Verlauf.",
           "Der Visus spiegelt das Ausmaß der Veränderungen nicht immer wider.")


BODY_PT = ("O diagnóstico baseia-se no exame do fundo de olho e nos exames de imagem.",
           "O tratamento depende da gravidade dos achados.",
           "A tomografia de coerência óptica permite quantificar a espessura macular.",
           "A angiografia com fluoresceína mostra as zonas de isquemia e de extravasamento.",
           "Os pacientes podem estar assintomáticos nas fases iniciais.",
           "O seguimento adapta-se à evolução de cada caso.",
           "A acuidade visual nem sempre reflete a extensão das lesões.")
BODY_FR = ("Le diagnostic repose sur l'examen du fond d'œil et sur l'imagerie.",
           "Le traitement dépend de la gravité des lésions.",
           "La tomographie par cohérence optique permet de mesurer l'épaisseur maculaire.",
           "L'angiographie à la fluorescéine montre les zones d'ischémie et de diffusion.",
           "Les patients sont souvent asymptomatiques au début.",
           "La surveillance s'adapte à l'évolution de chaque cas.",
           "L'acuité visuelle ne reflète pas toujours l'étendue des lésions.")


def _body_foreign(lang: str, d: Disease, refs: list[str], rng: random.Random) -> str:
    if lang == "pt":
        sents = [f"Os achados típicos em pacientes com {d.name['pt']} são descritos a seguir."]
        sents += rng.sample(BODY_PT, rng.randint(2, 4))
        sents += [rng.choice([f"Como se observa na {r}, as lesões localizam-se no polo posterior.",
                              f"A {r} mostra um caso característico."]) for r in refs]
        rng.shuffle(sents)
        return " ".join(sents)
    if lang == "fr":
        sents = [f"Les signes typiques chez les patients atteints de {d.name['fr']} sont décrits ci-dessous."]
        sents += rng.sample(BODY_FR, rng.randint(2, 4))
        sents += [rng.choice([f"Comme le montre la {r}, les lésions siègent au pôle postérieur.",
                              f"La {r} illustre un cas typique."]) for r in refs]
        rng.shuffle(sents)
        return " ".join(sents)
    if lang == "es":
        sents = [f"Los hallazgos típicos en pacientes con {d.name['es']} se describen a continuación."]
        sents += rng.sample(BODY_ES, rng.randint(2, 4))
        sents += [rng.choice([f"Como se observa en la {r}, las lesiones se localizan en el polo posterior.",
                              f"La {r} muestra un caso característico."]) for r in refs]
    else:
        sents = [f"Die typischen Befunde bei {d.name['de']} werden im Folgenden beschrieben."]
        sents += rng.sample(BODY_DE, rng.randint(2, 4))
        sents += [rng.choice([f"In {r} zeigt sich die typische Verteilung der Läsionen.",
                              f"Ein charakteristischer Fall ist in {r} dargestellt."]) for r in refs]
    rng.shuffle(sents)
    return " ".join(sents)


TABLES = {
    "en": (
        ("International clinical diabetic retinopathy severity scale",
         ("Grade", "Findings on dilated ophthalmoscopy", "Follow-up"),
         (("No DR", "No abnormalities", "12 months"), ("Mild NPDR", "Microaneurysms only", "12 months"),
          ("Moderate NPDR", "More than microaneurysms", "6 months"),
          ("Severe NPDR", "4-2-1 rule fulfilled", "3 months"), ("PDR", "Neovascularisation", "Urgent"))),
        ("Differential diagnosis of retinal haemorrhages",
         ("Condition", "Distribution", "Associated signs"),
         (("Diabetic retinopathy", "Posterior pole", "Exudates"), ("Vein occlusion", "Sectoral or diffuse",
                                                                    "Tortuous veins"),
          ("Hypertension", "Peripapillary", "AV nicking"), ("Anaemia", "Diffuse", "Roth spots"))),
        ("Optical coherence tomography features of macular disease",
         ("Disease", "OCT finding", "Layer"),
         (("DME", "Cystoid spaces", "INL/OPL"), ("CSCR", "Serous detachment", "Subretinal"),
          ("nAMD", "Fibrovascular PED", "Sub-RPE"), ("ERM", "Hyperreflective band", "Inner surface"))),
    ),
    "zh": (
        ("糖尿病视网膜病变国际临床分级", ("分级", "散瞳眼底检查所见", "随访"),
         (("无明显病变", "无异常", "12个月"), ("轻度NPDR", "仅有微血管瘤", "12个月"),
          ("中度NPDR", "病变多于微血管瘤", "6个月"), ("重度NPDR", "符合4-2-1规则", "3个月"),
          ("PDR", "新生血管", "尽快转诊"))),
        ("黄斑疾病的OCT特征", ("疾病", "OCT表现", "层次"),
         (("糖尿病黄斑水肿", "囊样腔隙", "内核层"), ("中浆", "浆液性脱离", "视网膜下"),
          ("湿性AMD", "色素上皮脱离", "RPE下"))),
    ),
    "es": (("Escala clínica de la retinopatía diabética", ("Grado", "Hallazgos", "Control"),
            (("Sin RD", "Sin alteraciones", "12 meses"), ("RDNP leve", "Microaneurismas", "12 meses"),
             ("RDP", "Neovasos", "Urgente"))),),
    "de": (("Klinische Stadien der diabetischen Retinopathie", ("Stadium", "Befund", "Kontrolle"),
            (("Keine DR", "Unauffällig", "12 Monate"), ("Milde NPDR", "Mikroaneurysmen", "12 Monate"),
             ("PDR", "Neovaskularisationen", "Sofort"))),),
    "pt": (("Escala clínica da retinopatia diabética", ("Grau", "Achados", "Controlo"),
            (("Sem RD", "Sem alterações", "12 meses"), ("RDNP ligeira", "Microaneurismas", "12 meses"),
             ("RDP", "Neovasos", "Urgente"))),),
    "fr": (("Classification clinique de la rétinopathie diabétique", ("Stade", "Signes", "Surveillance"),
            (("Pas de RD", "Normal", "12 mois"), ("RDNP minime", "Microanévrismes", "12 mois"),
             ("RDP", "Néovaisseaux", "Urgent"))),),
}


def disease(key: str) -> Disease:
    """Look up a disease by key with a clear error."""
    try:
        return DISEASE_BY_KEY[key]
    except KeyError:
        raise KeyError(f"unknown disease key {key!r}") from None


__all__ = ["CJK_FONT", "Caption", "HEAD_STYLES", "HeadStyle", "LabelStyle", "Segment", "TABLES", "body_paragraph",
           "compound_caption", "disease", "other_caption", "single_caption"]
