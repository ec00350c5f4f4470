"""Ophthalmic vocabulary for the sample books: diseases with their findings per modality and language."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Disease:
    """One condition: names per language, findings per modality, and what the image generators draw."""

    key: str
    name: dict[str, str]
    cfp_en: tuple[str, ...]
    ffa_en: tuple[str, ...]
    oct_en: tuple[str, ...]
    cfp_zh: tuple[str, ...]
    ffa_zh: tuple[str, ...]
    oct_zh: tuple[str, ...]
    lesions: tuple[str, ...]  # keys understood by fundus.draw_cfp
    ffa_signs: tuple[str, ...]  # keys understood by fundus.draw_ffa
    oct_signs: tuple[str, ...]  # keys understood by fundus.draw_oct
    cup: float = 0.35  # cup-to-disc ratio


# Portuguese and French names (the LaTeX-style thesis), by disease key
_NAMES_PT_FR: dict[str, tuple[str, str]] = {
    "npdr": ("retinopatia diabética não proliferativa", "rétinopathie diabétique non proliférante"),
    "pdr": ("retinopatia diabética proliferativa", "rétinopathie diabétique proliférante"),
    "brvo": ("oclusão de ramo venoso da retina", "occlusion de branche veineuse rétinienne"),
    "crvo": ("oclusão da veia central da retina", "occlusion de la veine centrale de la rétine"),
    "crao": ("oclusão da artéria central da retina", "occlusion de l'artère centrale de la rétine"),
    "wamd": ("degeneração macular relacionada à idade neovascular",
             "dégénérescence maculaire liée à l'âge néovasculaire"),
    "damd": ("degeneração macular relacionada à idade atrófica", "dégénérescence maculaire liée à l'âge atrophique"),
    "pm": ("miopia patológica", "myopie forte"),
    "glaucoma": ("glaucoma primário de ângulo aberto", "glaucome primitif à angle ouvert"),
    "cscr": ("coriorretinopatia serosa central", "choriorétinopathie séreuse centrale"),
    "rp": ("retinose pigmentar", "rétinopathie pigmentaire"),
    "normal": ("um fundo de olho normal", "un fond d'œil normal"),
}


def _d(key: str, en: str, zh: str, es: str, de: str, **kw: object) -> Disease:
    pt, fr = _NAMES_PT_FR[key]
    return Disease(key=key, name={"en": en, "zh": zh, "es": es, "de": de, "pt": pt, "fr": fr},
                   **kw)  # type: ignore[arg-type]


DISEASES: tuple[Disease, ...] = (
    _d(
        "npdr", "non-proliferative diabetic retinopathy", "非增殖期糖尿病视网膜病变",
        "retinopatía diabética no proliferativa", "nichtproliferativer diabetischer Retinopathie",
        cfp_en=(
            "scattered microaneurysms and dot-blot haemorrhages in all four quadrants",
            "hard exudates arranged in a circinate ring temporal to the fovea",
            "several cotton-wool spots along the superotemporal arcade",
            "venous beading in the inferotemporal quadrant",
            "intraretinal microvascular abnormalities adjacent to an area of capillary dropout",
        ),
        ffa_en=(
            "numerous hyperfluorescent microaneurysms around the macula",
            "patchy areas of capillary non-perfusion in the mid-periphery",
            "late leakage from dilated perifoveal capillaries",
            "blocked fluorescence corresponding to the intraretinal haemorrhages",
        ),
        oct_en=(
            "intraretinal cystoid spaces in the outer plexiform and inner nuclear layers",
            "hyperreflective foci corresponding to hard exudates",
            "increased central subfield thickness with loss of the foveal depression",
        ),
        cfp_zh=("后极部散在微血管瘤及点片状出血", "黄斑颞侧环形硬性渗出", "颞上血管弓旁可见数个棉絮斑", "颞下象限静脉串珠样改变"),
        ffa_zh=("黄斑周围大量点状强荧光微血管瘤", "中周部片状毛细血管无灌注区", "晚期黄斑区毛细血管荧光渗漏", "出血遮蔽荧光"),
        oct_zh=("外丛状层及内核层囊样水肿", "视网膜内点状高反射灶", "黄斑中心凹形态消失，视网膜增厚"),
        lesions=("ma", "dot_haem", "exudate_ring", "cws"),
        ffa_signs=("ma", "leak_macula", "nonperf"),
        oct_signs=("cysts", "hrf"),
    ),
    _d(
        "pdr", "proliferative diabetic retinopathy", "增殖期糖尿病视网膜病变",
        "retinopatía diabética proliferativa", "proliferativer diabetischer Retinopathie",
        cfp_en=(
            "neovascularisation of the disc with a fine fibrovascular frond",
            "preretinal haemorrhage inferior to the optic disc",
            "extensive dot-blot haemorrhages and cotton-wool spots",
            "scattered panretinal photocoagulation scars in the periphery",
        ),
        ffa_en=(
            "profuse leakage from new vessels at the optic disc",
            "extensive capillary non-perfusion beyond the vascular arcades",
            "hyperfluorescent leakage from neovascularisation elsewhere along the arcade",
        ),
        oct_en=(
            "a thickened posterior hyaloid with vitreomacular traction",
            "diffuse retinal thickening with intraretinal fluid",
        ),
        cfp_zh=("视盘新生血管伴纤维血管膜", "视盘下方视网膜前出血", "大量点片状出血及棉絮斑", "周边部全视网膜光凝斑"),
        ffa_zh=("视盘新生血管大量荧光渗漏", "血管弓外广泛无灌注区", "颞上血管弓旁视网膜新生血管渗漏"),
        oct_zh=("玻璃体后界膜增厚伴黄斑牵拉", "视网膜弥漫性增厚伴层间积液"),
        lesions=("ma", "dot_haem", "cws", "nvd", "prp"),
        ffa_signs=("ma", "leak_disc", "nonperf"),
        oct_signs=("cysts", "erm"),
    ),
    _d(
        "brvo", "branch retinal vein occlusion", "视网膜分支静脉阻塞",
        "oclusión de rama venosa retiniana", "Venenastverschluss",
        cfp_en=(
            "flame-shaped haemorrhages confined to the superotemporal quadrant",
            "dilated and tortuous veins distal to an arteriovenous crossing",
            "cotton-wool spots within the affected sector",
        ),
        ffa_en=(
            "delayed filling of the occluded branch vein",
            "blocked fluorescence from haemorrhages and sectoral non-perfusion",
            "collateral vessels crossing the horizontal raphe",
        ),
        oct_en=("cystoid macular oedema with subretinal fluid", "inner retinal hyperreflectivity in the affected sector"),
        cfp_zh=("颞上象限火焰状出血", "动静脉交叉处远端静脉迂曲扩张", "受累区域棉絮斑"),
        ffa_zh=("阻塞分支静脉充盈迟缓", "出血遮蔽荧光及扇形无灌注区", "跨水平缝的侧支循环"),
        oct_zh=("黄斑囊样水肿伴视网膜下积液", "受累区域视网膜内层高反射"),
        lesions=("flame_sector", "cws", "tortuous"),
        ffa_signs=("nonperf_sector", "leak_macula"),
        oct_signs=("cysts", "srf"),
    ),
    _d(
        "crvo", "central retinal vein occlusion", "视网膜中央静脉阻塞",
        "oclusión de la vena central de la retina", "Zentralvenenverschluss",
        cfp_en=(
            "widespread flame-shaped haemorrhages in all four quadrants",
            "dilated, tortuous retinal veins and optic disc swelling",
            "multiple cotton-wool spots around the posterior pole",
        ),
        ffa_en=("extensive blocked fluorescence from the haemorrhages", "marked late leakage at the disc and macula"),
        oct_en=("large cystoid spaces with a serous macular detachment",),
        cfp_zh=("四个象限广泛火焰状出血", "视网膜静脉迂曲扩张，视盘水肿", "后极部多发棉絮斑"),
        ffa_zh=("出血广泛遮蔽荧光", "晚期视盘及黄斑区明显荧光渗漏"),
        oct_zh=("黄斑大囊腔伴浆液性视网膜脱离",),
        lesions=("flame_all", "cws", "tortuous", "disc_swelling"),
        ffa_signs=("leak_disc", "leak_macula", "blocked"),
        oct_signs=("cysts", "srf"),
    ),
    _d(
        "crao", "central retinal artery occlusion", "视网膜中央动脉阻塞",
        "oclusión de la arteria central de la retina", "Zentralarterienverschluss",
        cfp_en=(
            "diffuse retinal whitening of the posterior pole with a cherry-red spot at the fovea",
            "attenuated arterioles with segmentation of the blood column",
        ),
        ffa_en=("markedly delayed arterial filling with a leading edge of dye",),
        oct_en=("hyperreflective, thickened inner retinal layers",),
        cfp_zh=("后极部视网膜灰白水肿，黄斑樱桃红斑", "动脉变细，血柱呈节段状"),
        ffa_zh=("动脉充盈明显迟缓，可见荧光前锋",),
        oct_zh=("视网膜内层增厚，反射增强",),
        lesions=("whitening", "cherry"),
        ffa_signs=("delayed",),
        oct_signs=("inner_hyper",),
    ),
    _d(
        "wamd", "neovascular age-related macular degeneration", "新生血管性年龄相关性黄斑变性",
        "degeneración macular asociada a la edad neovascular", "neovaskulärer altersabhängiger Makuladegeneration",
        cfp_en=(
            "a grey-green subretinal lesion surrounded by haemorrhage at the macula",
            "subretinal haemorrhage and exudation involving the fovea",
            "soft confluent drusen in the fellow eye",
        ),
        ffa_en=(
            "a lacy hyperfluorescent membrane in the early phase with progressive late leakage",
            "occult leakage with stippled hyperfluorescence",
        ),
        oct_en=(
            "a fibrovascular pigment epithelial detachment with subretinal fluid",
            "subretinal hyperreflective material above the retinal pigment epithelium",
        ),
        cfp_zh=("黄斑区灰绿色视网膜下病灶伴出血", "累及中心凹的视网膜下出血及渗出", "对侧眼软性融合玻璃膜疣"),
        ffa_zh=("早期花边状强荧光，晚期荧光渗漏逐渐增强", "隐匿性脉络膜新生血管点状强荧光"),
        oct_zh=("纤维血管性色素上皮脱离伴视网膜下积液", "色素上皮上方视网膜下高反射物质"),
        lesions=("drusen", "cnv_haem"),
        ffa_signs=("cnv",),
        oct_signs=("ped", "srf"),
    ),
    _d(
        "damd", "dry age-related macular degeneration", "干性年龄相关性黄斑变性",
        "degeneración macular asociada a la edad atrófica", "trockener altersabhängiger Makuladegeneration",
        cfp_en=(
            "numerous soft drusen clustered around the fovea",
            "a sharply demarcated area of geographic atrophy with visible choroidal vessels",
            "focal pigment clumping overlying the drusen",
        ),
        ffa_en=("window defects corresponding to the atrophic area", "late staining of drusen without leakage"),
        oct_en=("dome-shaped elevations of the retinal pigment epithelium", "outer retinal atrophy with choroidal hypertransmission"),
        cfp_zh=("黄斑区大量软性玻璃膜疣", "边界清晰的地图样萎缩，可见脉络膜大血管", "玻璃膜疣表面色素堆积"),
        ffa_zh=("萎缩区透见荧光", "玻璃膜疣晚期着染，无渗漏"),
        oct_zh=("色素上皮层圆顶状隆起", "外层视网膜萎缩伴脉络膜高透射"),
        lesions=("drusen", "ga"),
        ffa_signs=("window",),
        oct_signs=("drusen",),
    ),
    _d(
        "pm", "pathologic myopia", "病理性近视",
        "miopía patológica", "pathologischer Myopie",
        cfp_en=(
            "a tessellated fundus with large peripapillary atrophy",
            "a tilted optic disc with a temporal crescent",
            "lacquer cracks and patchy chorioretinal atrophy at the posterior pole",
        ),
        ffa_en=("window defects in the patchy atrophy with a small area of leakage from myopic neovascularisation",),
        oct_en=("a posterior staphyloma with marked choroidal thinning",),
        cfp_zh=("豹纹状眼底伴大范围视盘旁萎缩", "视盘倾斜，颞侧弧形斑", "后极部漆裂纹及斑片状脉络膜视网膜萎缩"),
        ffa_zh=("斑片状萎缩区透见荧光，伴小片近视性新生血管渗漏",),
        oct_zh=("后巩膜葡萄肿，脉络膜明显变薄",),
        lesions=("tessellation", "ppa"),
        ffa_signs=("window",),
        oct_signs=("staphyloma",),
    ),
    _d(
        "glaucoma", "primary open-angle glaucoma", "原发性开角型青光眼",
        "glaucoma primario de ángulo abierto", "primärem Offenwinkelglaukom",
        cfp_en=(
            "an enlarged cup-to-disc ratio of 0.8 with inferior rim thinning",
            "a splinter haemorrhage at the inferotemporal disc margin",
            "bayoneting of vessels at the cup margin",
        ),
        ffa_en=("filling defects of the optic disc in the early phase",),
        oct_en=("thinning of the retinal nerve fibre layer in the inferotemporal sector",),
        cfp_zh=("杯盘比扩大至0.8，下方盘沿变窄", "视盘颞下缘线状出血", "视杯边缘血管屈膝"),
        ffa_zh=("早期视盘充盈缺损",),
        oct_zh=("颞下方视网膜神经纤维层变薄",),
        lesions=("splinter",),
        ffa_signs=("delayed",),
        oct_signs=("rnfl_thin",),
        cup=0.8,
    ),
    _d(
        "cscr", "central serous chorioretinopathy", "中心性浆液性脉络膜视网膜病变",
        "coriorretinopatía serosa central", "Retinopathia centralis serosa",
        cfp_en=("a round serous detachment of the neurosensory retina at the macula",),
        ffa_en=("a single expansile dot of leakage superonasal to the fovea", "a smokestack pattern of leakage"),
        oct_en=("a dome-shaped serous retinal detachment with a small pigment epithelial detachment",),
        cfp_zh=("黄斑区圆形神经上皮浆液性脱离",),
        ffa_zh=("中心凹鼻上方单个墨渍样渗漏点", "炊烟状荧光渗漏"),
        oct_zh=("圆顶状神经上皮浆液性脱离伴小的色素上皮脱离",),
        lesions=("serous",),
        ffa_signs=("smokestack",),
        oct_signs=("srf", "ped_small"),
    ),
    _d(
        "rp", "retinitis pigmentosa", "视网膜色素变性",
        "retinosis pigmentaria", "Retinopathia pigmentosa",
        cfp_en=(
            "bone-spicule pigmentation in the mid-periphery",
            "waxy pallor of the optic disc and attenuated arterioles",
        ),
        ffa_en=("mottled hyperfluorescence from diffuse pigment epithelial atrophy",),
        oct_en=("loss of the ellipsoid zone outside the central macula",),
        cfp_zh=("中周部骨细胞样色素沉着", "视盘蜡黄色，视网膜动脉变细"),
        ffa_zh=("弥漫性色素上皮萎缩致斑驳状强荧光",),
        oct_zh=("黄斑中心以外椭圆体带消失",),
        lesions=("spicules", "pale_disc", "thin_vessels"),
        ffa_signs=("window",),
        oct_signs=("ez_loss",),
    ),
    _d(
        "normal", "a healthy eye", "正常眼底",
        "un fondo de ojo normal", "normalem Augenhintergrund",
        cfp_en=(
            "a pink optic disc with a cup-to-disc ratio of 0.3",
            "a normal foveal reflex and regular vascular calibre",
        ),
        ffa_en=("normal arteriovenous transit without leakage",),
        oct_en=("a normal foveal contour with intact outer retinal bands",),
        cfp_zh=("视盘色淡红，杯盘比0.3", "黄斑中心凹反光存在，血管管径正常"),
        ffa_zh=("动静脉循环时间正常，无荧光渗漏",),
        oct_zh=("黄斑中心凹形态正常，外层视网膜各条带完整",),
        lesions=(),
        ffa_signs=(),
        oct_signs=(),
    ),
)

DISEASE_BY_KEY = {d.key: d for d in DISEASES}

# Chapters group diseases; (key, English title, Chinese title, Spanish title, German title)
CHAPTERS: tuple[tuple[tuple[str, ...], dict[str, str]], ...] = (
    (("normal", "glaucoma"), {"en": "The Normal Fundus and the Optic Disc", "zh": "正常眼底与视盘",
                              "es": "El fondo de ojo normal", "de": "Der normale Augenhintergrund",
                              "pt": "O fundo de olho normal", "fr": "Le fond d'œil normal"}),
    (("npdr", "pdr"), {"en": "Diabetic Retinopathy", "zh": "糖尿病视网膜病变",
                       "es": "Retinopatía diabética", "de": "Diabetische Retinopathie",
                       "pt": "Retinopatia diabética", "fr": "Rétinopathie diabétique"}),
    (("brvo", "crvo", "crao"), {"en": "Retinal Vascular Occlusions", "zh": "视网膜血管阻塞性疾病",
                                "es": "Oclusiones vasculares retinianas", "de": "Retinale Gefäßverschlüsse",
                                "pt": "Oclusões vasculares retinianas", "fr": "Occlusions vasculaires rétiniennes"}),
    (("wamd", "damd", "cscr"), {"en": "Macular Disorders", "zh": "黄斑疾病",
                                "es": "Enfermedades maculares", "de": "Makulaerkrankungen",
                                "pt": "Doenças maculares", "fr": "Maladies maculaires"}),
    (("pm", "rp"), {"en": "Myopia and Hereditary Retinal Dystrophies", "zh": "近视与遗传性视网膜变性",
                    "es": "Miopía y distrofias hereditarias", "de": "Myopie und hereditäre Netzhautdystrophien",
                    "pt": "Miopia e distrofias hereditárias", "fr": "Myopie et dystrophies héréditaires"}),
)

SECTIONS_EN = ("Clinical features", "Fundus photography", "Fluorescein angiography",
               "Optical coherence tomography", "Differential diagnosis", "Management")
SECTIONS_ZH = ("临床表现", "眼底彩色照相", "荧光素眼底血管造影", "光学相干断层扫描", "鉴别诊断", "治疗")
SECTIONS_ES = ("Manifestaciones clínicas", "Angiografía", "Tratamiento")
SECTIONS_DE = ("Klinisches Bild", "Angiographie", "Therapie")
SECTIONS_PT = ("Manifestações clínicas", "Angiografia", "Tratamento")
SECTIONS_FR = ("Signes cliniques", "Angiographie", "Traitement")

EYES_EN = ("right", "left")
EYES_ZH = ("右", "左")
SEX_EN = ("man", "woman")
SEX_ZH = ("男", "女")
FFA_PHASE_EN = ("early arterial", "arteriovenous", "mid", "late")
FFA_PHASE_ZH = ("动脉期", "动静脉期", "静脉期", "晚期")

# Spanish and German captions use a small generic vocabulary (the bonus languages); German disease names
# above are in the dative ("bei ..."), Spanish ones follow "con".
FINDINGS_ES = ("microaneurismas y exudados duros en el polo posterior", "hemorragias en llama en los cuatro cuadrantes",
               "drusas blandas confluentes en la mácula", "atrofia peripapilar y fondo teselado",
               "edema macular quístico con líquido subretiniano", "fuga tardía de contraste en la mácula",
               "manchas algodonosas a lo largo de las arcadas", "neovasos sobre la papila óptica",
               "una excavación papilar aumentada", "pigmento en espículas óseas en la periferia media")
FINDINGS_DE = ("Mikroaneurysmen und harte Exsudate am hinteren Pol", "streifige Blutungen in allen vier Quadranten",
               "weiche konfluierende Drusen in der Makula", "peripapilläre Atrophie und getäfelter Fundus",
               "zystoides Makulaödem mit subretinaler Flüssigkeit", "späte Farbstoffleckage in der Makula",
               "Cotton-Wool-Herde entlang der Gefäßbögen", "Neovaskularisationen an der Papille",
               "eine vergrößerte Papillenexkavation", "knochenbälkchenartige Pigmentierung in der mittleren Peripherie")
FINDINGS_PT = ("microaneurismas e exsudatos duros no polo posterior", "hemorragias em chama nos quatro quadrantes",
               "drusas moles confluentes na mácula", "atrofia peripapilar e fundo tigroide",
               "edema macular cistoide com líquido sub-retiniano", "extravasamento tardio de contraste na mácula",
               "manchas algodonosas ao longo das arcadas", "neovasos sobre o disco óptico",
               "uma escavação papilar aumentada", "pigmento em espículas ósseas na média periferia")
FINDINGS_FR = ("des microanévrismes et des exsudats durs au pôle postérieur",
               "des hémorragies en flammèches dans les quatre quadrants", "des drusen séreux confluents dans la macula",
               "une atrophie péripapillaire et un fond d'œil tigré",
               "un œdème maculaire cystoïde avec du liquide sous-rétinien",
               "une diffusion tardive du colorant dans la macula", "des nodules cotonneux le long des arcades",
               "des néovaisseaux prépapillaires", "une excavation papillaire élargie",
               "des ostéoblastes pigmentaires en moyenne périphérie")
MODALITY_NAME = {
    "CFP": {"en": ("Colour fundus photograph", "Fundus photograph", "Color fundus photograph"),
            "zh": ("彩色眼底照相", "眼底彩照"), "es": ("Retinografía en color", "Retinografía"),
            "de": ("Fundusfotografie",), "pt": ("Retinografia colorida", "Retinografia"),
            "fr": ("Rétinographie couleur", "Photographie du fond d'œil")},
    "FFA": {"en": ("Fluorescein angiogram", "Fundus fluorescein angiography", "FFA"),
            "zh": ("荧光素眼底血管造影", "FFA"), "es": ("Angiografía con fluoresceína", "Angiografía fluoresceínica"),
            "de": ("Fluoreszeinangiographie",), "pt": ("Angiofluoresceinografia", "Angiografia fluoresceínica"),
            "fr": ("Angiographie à la fluorescéine", "Angiographie fluorescéinique")},
    "OCT": {"en": ("Optical coherence tomography", "Spectral-domain OCT", "OCT B-scan"),
            "zh": ("OCT", "光学相干断层扫描"), "es": ("Tomografía de coherencia óptica", "Imagen OCT"),
            "de": ("Optische Kohärenztomographie",), "pt": ("Tomografia de coerência óptica", "Imagem de OCT"),
            "fr": ("Tomographie par cohérence optique", "Coupe OCT")},
}
#: file names of dataset images that theses quote in captions (an underscore a reader sees)
IMAGE_IDS = ("Image_05L", "IDRiD_023", "P0012_OD", "fundus_118_R", "OCT_0347", "FA_early_02")
