"""The ophthalmic lexicon behind the caption entity ruler and the modality cues.

Each :class:`Concept` has a canonical English name (its ``id``, used as the keyword), a label
(``DISEASE``, ``LESION``, ``ANATOMY``, ``MODALITY``), English terms (matched case-insensitively),
abbreviations (matched case-sensitively, so "FA" is not "fa" and "DR" is not "Dr."; an abbreviation is a
cue in every language and script: "Imagen OCT", "OCT图像", "تصویر OCT"), Chinese terms (simplified and
traditional) and terms in other languages (``intl``: Spanish, Portuguese, French, German, Italian, Persian;
matched case- and accent-insensitively, so "angiografia fluoresceinica" is "angiografía fluoresceínica").
``MODALITY`` concepts carry the modality class they are evidence for (CFP, FFA, OCT, or None when
the imaging method has no class of its own).

:func:`~.terms.find_terms` matches the whole lexicon on any text, whatever its language (the modality cues
use it); the spaCy pipelines of :mod:`.nlp` use the same terms for caption entities.
"""

from __future__ import annotations

from dataclasses import dataclass

DISEASE, LESION, ANATOMY, MODALITY = "DISEASE", "LESION", "ANATOMY", "MODALITY"
LABELS: tuple[str, ...] = (DISEASE, LESION, ANATOMY, MODALITY)


@dataclass(frozen=True)
class Concept:
    id: str
    label: str
    en: tuple[str, ...] = ()
    abbr: tuple[str, ...] = ()
    zh: tuple[str, ...] = ()
    modality: str | None = None  # for MODALITY concepts: the class the term is a cue for
    intl: tuple[str, ...] = ()  # terms in other languages (es, pt, fr, de, it, fa), accents optional


def _c(id: str, label: str, en: str = "", abbr: str = "", zh: str = "", modality: str | None = None,
       **other: str) -> Concept:
    """Compact constructor: terms separated by '|'; ``other`` by language code (``es``, ``pt``, ``fr``, ``de``,
    ``it``, ``fa``, and ``zh_hant`` for traditional Chinese, kept with the Chinese terms)."""

    def split(s: str) -> tuple[str, ...]:
        return tuple(t.strip() for t in s.split("|") if t.strip())

    unknown = set(other) - {"es", "pt", "fr", "de", "it", "fa", "zh_hant"}
    if unknown:
        raise ValueError(f"lexicon: unknown language(s) {sorted(unknown)} for {id!r}")
    intl = tuple(t for lang in ("es", "pt", "fr", "de", "it", "fa") for t in split(other.get(lang, "")))
    return Concept(id, label, (id, *split(en)), split(abbr), split(zh) + split(other.get("zh_hant", "")), modality,
                   intl)


CONCEPTS: tuple[Concept, ...] = (
    # ------------------------------------------------------------------ diseases
    _c("diabetic retinopathy", DISEASE, "diabetic retinopathies", "DR", "糖尿病视网膜病变|糖尿病性视网膜病变|糖网病"),
    _c("proliferative diabetic retinopathy", DISEASE, "", "PDR", "增殖性糖尿病视网膜病变|增殖期糖尿病视网膜病变"),
    _c("non-proliferative diabetic retinopathy", DISEASE, "nonproliferative diabetic retinopathy", "NPDR",
       "非增殖性糖尿病视网膜病变|非增殖期糖尿病视网膜病变"),
    _c("diabetic macular edema", DISEASE, "diabetic macular oedema", "DME|DMO", "糖尿病黄斑水肿|糖尿病性黄斑水肿"),
    _c("age-related macular degeneration", DISEASE, "age related macular degeneration|macular degeneration",
       "AMD|ARMD", "年龄相关性黄斑变性|老年性黄斑变性|黄斑变性"),
    _c("choroidal neovascularization", DISEASE, "choroidal neovascularisation|choroidal neovascular membrane",
       "CNV|CNVM", "脉络膜新生血管|脉络膜新生血管膜"),
    _c("polypoidal choroidal vasculopathy", DISEASE, "", "PCV", "息肉状脉络膜血管病变"),
    _c("central serous chorioretinopathy", DISEASE, "central serous retinopathy", "CSC|CSCR",
       "中心性浆液性脉络膜视网膜病变|中心性浆液性视网膜病变"),
    _c("retinal vein occlusion", DISEASE, "", "RVO", "视网膜静脉阻塞"),
    _c("central retinal vein occlusion", DISEASE, "", "CRVO", "视网膜中央静脉阻塞"),
    _c("branch retinal vein occlusion", DISEASE, "", "BRVO", "视网膜分支静脉阻塞"),
    _c("retinal artery occlusion", DISEASE, "", "RAO", "视网膜动脉阻塞"),
    _c("central retinal artery occlusion", DISEASE, "", "CRAO", "视网膜中央动脉阻塞"),
    _c("branch retinal artery occlusion", DISEASE, "", "BRAO", "视网膜分支动脉阻塞"),
    _c("glaucoma", DISEASE, "glaucomatous optic neuropathy|open-angle glaucoma|angle-closure glaucoma", "",
       "青光眼|青光眼性视神经病变"),
    _c("pathologic myopia", DISEASE, "pathological myopia|myopic maculopathy|degenerative myopia", "PM",
       "病理性近视|近视性黄斑病变"),
    _c("high myopia", DISEASE, "", "", "高度近视"),
    _c("retinal detachment", DISEASE, "rhegmatogenous retinal detachment|tractional retinal detachment", "RD|RRD",
       "视网膜脱离|孔源性视网膜脱离|牵拉性视网膜脱离"),
    _c("retinitis pigmentosa", DISEASE, "", "RP", "视网膜色素变性"),
    _c("hypertensive retinopathy", DISEASE, "", "", "高血压性视网膜病变|高血压视网膜病变"),
    _c("retinopathy of prematurity", DISEASE, "", "ROP", "早产儿视网膜病变"),
    _c("retinoblastoma", DISEASE, "", "", "视网膜母细胞瘤"),
    _c("choroidal melanoma", DISEASE, "uveal melanoma", "", "脉络膜黑色素瘤|脉络膜黑素瘤|葡萄膜黑色素瘤"),
    _c("choroidal hemangioma", DISEASE, "choroidal haemangioma", "", "脉络膜血管瘤"),
    _c("choroidal nevus", DISEASE, "choroidal naevus", "", "脉络膜痣"),
    _c("uveitis", DISEASE, "posterior uveitis|panuveitis", "", "葡萄膜炎"),
    _c("Vogt-Koyanagi-Harada disease", DISEASE, "Vogt-Koyanagi-Harada syndrome|Harada disease", "VKH",
       "小柳原田综合征|福格特-小柳-原田综合征|原田病"),
    _c("endophthalmitis", DISEASE, "", "", "眼内炎"),
    _c("macular hole", DISEASE, "full-thickness macular hole|lamellar macular hole", "MH", "黄斑裂孔|黄斑孔"),
    _c("epiretinal membrane", DISEASE, "macular pucker", "ERM", "视网膜前膜|黄斑前膜|黄斑部视网膜前膜"),
    _c("optic neuritis", DISEASE, "", "", "视神经炎"),
    _c("papilledema", DISEASE, "papilloedema|optic disc swelling|optic disc edema", "", "视乳头水肿|视盘水肿"),
    _c("optic atrophy", DISEASE, "optic nerve atrophy", "", "视神经萎缩"),
    _c("ischemic optic neuropathy", DISEASE, "anterior ischemic optic neuropathy|ischaemic optic neuropathy",
       "AION|NAION", "缺血性视神经病变|前部缺血性视神经病变"),
    _c("Coats disease", DISEASE, "Coats' disease", "", "Coats病|外层渗出性视网膜病变"),
    _c("Stargardt disease", DISEASE, "", "", "Stargardt病|斯塔加特病"),
    _c("Best disease", DISEASE, "vitelliform macular dystrophy", "", "卵黄样黄斑营养不良|Best病"),
    _c("macular dystrophy", DISEASE, "cone dystrophy|cone-rod dystrophy", "", "黄斑营养不良|视锥细胞营养不良"),
    _c("toxoplasmic retinochoroiditis", DISEASE, "ocular toxoplasmosis|toxoplasmosis", "", "弓形虫视网膜脉络膜炎"),
    _c("cytomegalovirus retinitis", DISEASE, "CMV retinitis", "", "巨细胞病毒性视网膜炎"),
    _c("acute retinal necrosis", DISEASE, "", "ARN", "急性视网膜坏死"),
    _c("retinal vasculitis", DISEASE, "Eales disease", "", "视网膜血管炎|视网膜静脉周围炎"),
    _c("macular edema", DISEASE, "macular oedema|cystoid macular edema|cystoid macular oedema", "CME",
       "黄斑水肿|黄斑囊样水肿"),
    _c("familial exudative vitreoretinopathy", DISEASE, "", "FEVR", "家族性渗出性玻璃体视网膜病变"),
    _c("retinal vein occlusion", DISEASE, "venous occlusion", "", "静脉阻塞"),
    _c("retinoschisis", DISEASE, "", "", "视网膜劈裂"),
    _c("vitreomacular traction", DISEASE, "", "VMT", "玻璃体黄斑牵拉"),
    # ------------------------------------------------------------------ lesions and signs
    _c("microaneurysm", LESION, "microaneurysms", "MA", "微动脉瘤|微血管瘤"),
    _c("hemorrhage", LESION, "hemorrhages|haemorrhage|haemorrhages|retinal hemorrhage|dot-blot hemorrhage|"
       "flame-shaped hemorrhage|blot hemorrhage|macular hemorrhage|preretinal hemorrhage|subretinal hemorrhage",
       "", "出血|视网膜出血|火焰状出血|点状出血|片状出血|视网膜前出血|视网膜下出血|黄斑出血"),
    _c("vitreous hemorrhage", LESION, "vitreous haemorrhage", "VH", "玻璃体积血|玻璃体出血"),
    _c("hard exudate", LESION, "hard exudates|exudate|exudates|lipid exudate", "", "硬性渗出|渗出"),
    _c("cotton wool spot", LESION, "cotton wool spots|cotton-wool spot|cotton-wool spots|soft exudate|soft exudates",
       "CWS", "棉絮斑|软性渗出"),
    _c("drusen", LESION, "druse|soft drusen|hard drusen", "", "玻璃膜疣"),
    _c("neovascularization", LESION, "neovascularisation|new vessels|neovascularization of the disc|"
       "neovascularization elsewhere", "NVD|NVE", "新生血管|视盘新生血管"),
    _c("geographic atrophy", LESION, "", "GA", "地图状萎缩"),
    _c("peripapillary atrophy", LESION, "peripapillary atrophies", "PPA", "视盘周围萎缩|视乳头旁萎缩|视盘旁萎缩"),
    _c("chorioretinal atrophy", LESION, "retinal atrophy|choroidal atrophy|patchy atrophy|diffuse atrophy", "",
       "脉络膜视网膜萎缩|视网膜萎缩|脉络膜萎缩"),
    _c("lacquer crack", LESION, "lacquer cracks", "", "漆裂纹"),
    _c("Fuchs spot", LESION, "Forster-Fuchs spot", "", "Fuchs斑"),
    _c("pigment epithelial detachment", LESION, "retinal pigment epithelial detachment|RPE detachment", "PED",
       "色素上皮脱离|视网膜色素上皮脱离"),
    _c("subretinal fluid", LESION, "serous retinal detachment|serous detachment|neurosensory detachment", "SRF",
       "视网膜下液|浆液性视网膜脱离|神经上皮脱离"),
    _c("intraretinal fluid", LESION, "intraretinal cysts|cystoid spaces", "IRF", "视网膜内液|囊样间隙|囊腔"),
    _c("retinal tear", LESION, "retinal break|horseshoe tear|retinal hole", "", "视网膜裂孔|马蹄形裂孔"),
    _c("pigment clumping", LESION, "hyperpigmentation|pigmentation|bone spicules|bone spicule pigmentation", "",
       "色素沉着|色素紊乱|骨细胞样色素"),
    _c("tessellated fundus", LESION, "tessellated retina|tessellation|leopard fundus", "", "豹纹状眼底"),
    _c("posterior staphyloma", LESION, "staphyloma", "", "后巩膜葡萄肿|巩膜葡萄肿"),
    _c("hyperfluorescence", LESION, "hyperfluorescent", "", "强荧光|高荧光"),
    _c("hypofluorescence", LESION, "hypofluorescent", "", "弱荧光|低荧光"),
    _c("leakage", LESION, "dye leakage|fluorescein leakage", "", "荧光素渗漏|渗漏"),
    _c("window defect", LESION, "transmission defect", "", "窗样缺损|透见荧光"),
    _c("blocked fluorescence", LESION, "blockage", "", "遮蔽荧光|荧光遮蔽"),
    _c("capillary non-perfusion", LESION, "non-perfusion|nonperfusion|non-perfusion area|capillary dropout", "",
       "无灌注区|毛细血管无灌注"),
    _c("staining", LESION, "", "", "着染"),
    _c("pooling", LESION, "dye pooling", "", "积存"),
    _c("optic disc cupping", LESION, "cupping|enlarged cup|cup-to-disc ratio|cup-disc ratio", "CDR",
       "视杯扩大|杯盘比"),
    _c("venous beading", LESION, "", "", "静脉串珠"),
    _c("intraretinal microvascular abnormality", LESION, "intraretinal microvascular abnormalities", "IRMA",
       "视网膜内微血管异常"),
    _c("vitreous opacity", LESION, "vitreous opacities|floaters", "", "玻璃体混浊"),
    _c("fibrovascular proliferation", LESION, "fibrovascular membrane|fibrous proliferation|fibrosis|scar|"
       "disciform scar", "", "纤维血管增殖|纤维血管膜|纤维化|瘢痕"),
    _c("edema", LESION, "oedema|retinal edema|retinal thickening", "", "水肿|视网膜水肿|视网膜增厚"),
    _c("arteriovenous nicking", LESION, "AV nicking|arteriovenous crossing", "", "动静脉交叉压迫"),
    _c("embolus", LESION, "emboli|Hollenhorst plaque", "", "栓子"),
    _c("cherry-red spot", LESION, "cherry red spot", "", "樱桃红斑|樱桃红点"),
    _c("atrophy", LESION, "", "", "萎缩"),
    # ------------------------------------------------------------------ anatomy
    _c("retina", ANATOMY, "retinal", "", "视网膜"),
    _c("macula", ANATOMY, "macular|macula lutea", "", "黄斑|黄斑区"),
    _c("fovea", ANATOMY, "foveal|foveola", "", "黄斑中心凹|中心凹"),
    _c("optic disc", ANATOMY, "optic disk|optic nerve head|optic papilla", "ONH", "视盘|视乳头|视神经乳头"),
    _c("optic cup", ANATOMY, "", "", "视杯"),
    _c("optic nerve", ANATOMY, "", "", "视神经"),
    _c("choroid", ANATOMY, "choroidal", "", "脉络膜"),
    _c("sclera", ANATOMY, "scleral", "", "巩膜"),
    _c("vitreous", ANATOMY, "vitreous body", "", "玻璃体"),
    _c("retinal pigment epithelium", ANATOMY, "pigment epithelium", "RPE", "视网膜色素上皮|色素上皮"),
    _c("Bruch's membrane", ANATOMY, "Bruch membrane", "", "Bruch膜"),
    _c("photoreceptor", ANATOMY, "photoreceptors|photoreceptor layer", "", "光感受器|感光细胞"),
    _c("ellipsoid zone", ANATOMY, "inner segment/outer segment junction|IS/OS junction", "EZ", "椭圆体带|光感受器内外节连接"),
    _c("external limiting membrane", ANATOMY, "", "ELM", "外界膜"),
    _c("internal limiting membrane", ANATOMY, "inner limiting membrane", "ILM", "内界膜"),
    _c("retinal nerve fiber layer", ANATOMY, "nerve fiber layer|nerve fibre layer|retinal nerve fibre layer",
       "RNFL|NFL", "视网膜神经纤维层|神经纤维层"),
    _c("ganglion cell layer", ANATOMY, "", "GCL", "神经节细胞层"),
    _c("inner plexiform layer", ANATOMY, "", "IPL", "内丛状层"),
    _c("outer plexiform layer", ANATOMY, "", "OPL", "外丛状层"),
    _c("inner nuclear layer", ANATOMY, "", "INL", "内核层"),
    _c("outer nuclear layer", ANATOMY, "", "ONL", "外核层"),
    _c("retinal vessels", ANATOMY, "retinal vessel|blood vessels|vessels|vasculature", "", "视网膜血管|血管"),
    _c("artery", ANATOMY, "arteries|arteriole|arterioles|retinal artery|retinal arteries", "", "动脉|小动脉"),
    _c("vein", ANATOMY, "veins|venule|venules|retinal vein|retinal veins", "", "静脉|小静脉"),
    _c("capillaries", ANATOMY, "capillary|choriocapillaris", "", "毛细血管|脉络膜毛细血管"),
    _c("posterior pole", ANATOMY, "", "", "后极部"),
    _c("peripheral retina", ANATOMY, "periphery|retinal periphery", "", "周边视网膜|周边部"),
    _c("vascular arcade", ANATOMY, "vascular arcades|temporal arcade|temporal arcades", "", "血管弓"),
    _c("ora serrata", ANATOMY, "", "", "锯齿缘"),
    _c("lens", ANATOMY, "crystalline lens", "", "晶状体"),
    _c("cornea", ANATOMY, "corneal", "", "角膜"),
    _c("iris", ANATOMY, "", "", "虹膜"),
    _c("ciliary body", ANATOMY, "", "", "睫状体"),
    _c("fundus", ANATOMY, "ocular fundus", "", "眼底"),
    # ------------------------------------------------------------------ imaging modalities
    _c("color fundus photograph", MODALITY, "colour fundus photograph|color fundus photographs|colour fundus "
       "photographs|color fundus photography|colour fundus photography|fundus photograph|fundus photographs|"
       "fundus photography|fundus photo|fundus photos|fundus image|fundus images|color fundus image|"
       "colour fundus image|color fundus images|color photograph|colour photograph|fundus camera|"
       "red-free photograph|red-free image|red free photograph",
       "CFP|CFPs", "彩色眼底照相|彩色眼底照片|彩色眼底像|眼底彩照|眼底彩色照相|眼底照相|眼底照片|眼底像|彩照|无赤光眼底照相|无赤光|"
       "彩色眼底|眼底摄影|彩色眼底摄影|眼底照|眼底图像",
       modality="CFP",
       es="retinografía|retinografía en color|retinografía color|retinografía aneritra|fotografía de fondo de ojo|"
          "fotografía del fondo de ojo|fotografía en color del fondo de ojo|foto de fondo de ojo|"
          "imagen de fondo de ojo|imagen del fondo de ojo|fotografía del fondo|cámara de fondo de ojo",
       pt="retinografia|retinografia colorida|retinografia a cores|fotografia do fundo de olho|"
          "fotografia de fundo de olho|fotografia do fundo do olho|foto do fundo de olho|imagem de fundo de olho|"
          "imagem do fundo de olho|retinografia aneritra",
       fr="rétinographie|rétinographie couleur|rétinographie en couleur|photographie du fond d'œil|"
          "photographie couleur du fond d'œil|photo du fond d'œil|cliché du fond d'œil|image du fond d'œil|"
          "photographie du fond de l'œil|rétinophotographie|photographie anérythre",
       de="Fundusfoto|Fundusfotografie|Fundusphotographie|Farbfundusfoto|Farbfundusfotografie|"
          "Farbfundusphotographie|Fundusaufnahme|Fundusbild|Funduskamera|Farbfotografie des Augenhintergrundes|"
          "Fotografie des Augenhintergrundes|rotfreie Aufnahme",
       it="retinografia a colori|fotografia del fondo oculare|fotografia del fondo dell'occhio|"
          "fotografia del fundus|foto del fondo oculare|immagine del fondo oculare|fotografia a colori del fundus",
       fa="عکس رنگی فوندوس|عکس فوندوس|تصویر فوندوس|عکاسی فوندوس|عکس رنگی ته چشم|عکس ته چشم|رتینوگرافی",
       zh_hant="彩色眼底照片|眼底照片|眼底攝影|彩色眼底攝影|眼底相片|眼底彩色攝影|眼底圖像|無赤光"),
    _c("fluorescein angiography", MODALITY, "fundus fluorescein angiography|fluorescein angiogram|fluorescein "
       "angiograms|fluorescein fundus angiography|angiogram|angiography|early phase|late phase|arteriovenous phase|"
       "venous phase|laminar phase",
       "FFA|FA|FFAG|FAG|FLA|AGF|FFAs", "荧光素眼底血管造影|眼底荧光素血管造影|眼底荧光血管造影|荧光素血管造影|荧光血管造影|"
       "荧光造影|造影早期|造影晚期|造影",
       modality="FFA",
       es="angiografía fluoresceínica|angiografía con fluoresceína|angiografía fluoresceínica de fondo de ojo|"
          "angiofluoresceingrafía|angiofluoresceinografía|angiografía retiniana|angiografía|fase precoz|"
          "fase tardía|tiempos tardíos|tiempos precoces|fase arteriovenosa",
       pt="angiografia fluoresceínica|angiografia com fluoresceína|angiofluoresceinografia|"
          "angiografia fluoresceínica do fundo de olho|angiografia|fase precoce|fase tardia",
       fr="angiographie à la fluorescéine|angiographie fluorescéinique|angiographie en fluorescence|"
          "angiofluorographie|angiographie|temps précoce|temps tardif|temps tardifs|temps artério-veineux",
       de="Fluoreszenzangiographie|Fluoreszenzangiografie|Fluoreszeinangiographie|Fluoreszeinangiografie|"
          "Fluoreszein-Angiographie|Fluoreszein-Angiografie|Angiographie|Angiografie|Frühphase|Spätphase",
       it="fluorangiografia|fluorangiografia retinica|angiografia con fluoresceina|angiografia fluoresceinica|"
          "fase precoce|fase tardiva",
       fa="آنژیوگرافی فلورسئین|آنژیوگرافی با فلورسئین|فلورسئین آنژیوگرافی|آنژیوگرافی فلورسنت|آنژیوگرافی",
       zh_hant="螢光素眼底血管攝影|眼底螢光血管攝影|螢光血管攝影|螢光素血管攝影|螢光眼底血管攝影|螢光素眼底血管造影|"
               "眼底螢光素血管造影|螢光血管造影|螢光造影|眼底螢光造影"),
    _c("indocyanine green angiography", MODALITY, "indocyanine green angiogram|ICG angiography", "ICGA|ICG",
       "吲哚菁绿血管造影|吲哚青绿血管造影|吲哚菁绿脉络膜血管造影", modality="FFA",
       es="angiografía con verde de indocianina|angiografía con indocianina verde",
       pt="angiografia com indocianina verde|angiografia com verde de indocianina",
       fr="angiographie au vert d'indocyanine|angiographie en infrarouge au vert d'indocyanine",
       de="Indocyaningrün-Angiographie|Indocyaningrünangiographie|Indocyaningrün-Angiografie",
       it="angiografia con verde indocianina|angiografia al verde indocianina",
       fa="آنژیوگرافی ایندوسیانین گرین|آنژیوگرافی با ایندوسیانین سبز",
       zh_hant="吲哚青綠血管攝影|吲哚菁綠血管造影|吲哚青綠血管造影"),
    _c("optical coherence tomography", MODALITY, "optical coherence tomogram|spectral-domain optical coherence "
       "tomography|swept-source optical coherence tomography|OCT scan|OCT image|B-scan|B scan|line scan|"
       "horizontal scan|vertical scan|tomogram",
       "OCT|SD-OCT|SS-OCT|EDI-OCT|OCTs|TCO", "光学相干断层扫描|光学相干断层成像|光相干断层扫描|相干光断层扫描|相干光层析成像|"
       "OCT图像|OCT扫描|光学相干断层",
       modality="OCT",
       es="tomografía de coherencia óptica|tomografía óptica de coherencia|tomografía de coherencia óptica de "
          "dominio espectral|tomografía por coherencia óptica|corte tomográfico",
       pt="tomografia de coerência óptica|tomografia de coerência ótica|tomografia por coerência óptica|"
          "tomografia de coerência óptica de domínio espectral",
       fr="tomographie par cohérence optique|tomographie en cohérence optique|tomographie à cohérence optique|"
          "coupe tomographique",
       de="optische Kohärenztomographie|optische Kohärenztomografie|optischen Kohärenztomographie|"
          "optischen Kohärenztomografie|Kohärenztomographie|Kohärenztomografie|OCT-Aufnahme|OCT-Bild|OCT-Schnitt",
       it="tomografia a coerenza ottica|tomografia ottica a radiazione coerente|tomografia ottica computerizzata",
       fa="توموگرافی انسجام نوری|توموگرافی همدوسی نوری|توموگرافی پیوستگی نوری|توموگرافی انسجام اپتیکی",
       zh_hant="光學相干斷層掃描|光學同調斷層掃描|光學相干斷層成像|光學同調斷層攝影|相干光斷層掃描|光學相干斷層|"
               "OCT圖像|OCT掃描"),
    _c("OCT angiography", MODALITY, "optical coherence tomography angiography", "OCTA|OCT-A|OCTAs",
       "光学相干断层扫描血管成像|OCT血管成像", modality="OCT",
       es="angiografía por OCT|angio-OCT|angiografía OCT|angiografía por tomografía de coherencia óptica|angio-TCO",
       pt="angio-OCT|angiografia por OCT|angiotomografia de coerência óptica|angiografia por tomografia de "
          "coerência óptica",
       fr="angiographie OCT|OCT-angiographie|angio-OCT|angiographie par tomographie en cohérence optique",
       de="OCT-Angiographie|OCT-Angiografie|OCT Angiographie",
       it="angio-OCT|angiografia OCT|angiografia con tomografia a coerenza ottica",
       fa="آنژیوگرافی OCT|آنژیو OCT",
       zh_hant="光學相干斷層掃描血管成像|OCT血管成像|光學同調斷層掃描血管攝影"),
    _c("fundus autofluorescence", MODALITY, "autofluorescence", "FAF|AF",
       "眼底自发荧光|自发荧光",
       es="autofluorescencia|autofluorescencia de fondo de ojo|autofluorescencia del fondo de ojo",
       pt="autofluorescência|autofluorescência do fundo de olho",
       fr="autofluorescence|autofluorescence du fond d'œil",
       de="Fundusautofluoreszenz|Autofluoreszenz", it="autofluorescenza|autofluorescenza del fondo oculare",
       fa="اتوفلورسانس|اتوفلورسنس فوندوس", zh_hant="眼底自發螢光|自發螢光"),
    _c("ultrasonography", MODALITY, "ultrasound|ultrasound B-scan|echography", "", "超声|B超|超声检查",
       es="ecografía|ecografía ocular", pt="ecografia|ultrassonografia|ultrassonografia ocular",
       fr="échographie|échographie oculaire", de="Ultraschall|Sonographie|Sonografie|Echographie",
       it="ecografia|ecografia oculare", fa="سونوگرافی|اولتراسونوگرافی", zh_hant="超音波|超音波檢查|超聲"),
    _c("ultra-widefield imaging", MODALITY, "ultra-widefield|ultrawide-field|wide-field|widefield", "UWF",
       "超广角|广角眼底",
       es="campo ultraamplio|campo ultra amplio|gran angular", pt="campo ultra-amplo|grande angular",
       fr="ultra grand champ|ultra-grand champ|grand champ", de="Ultraweitwinkel|Weitwinkel",
       it="campo ultra-ampio|grandangolo", zh_hant="超廣角|廣角眼底"),
)


def concepts_by_id() -> dict[str, Concept]:
    """Canonical name -> concept (a name listed twice merges its terms)."""
    out: dict[str, Concept] = {}
    for c in CONCEPTS:
        if c.id in out:
            o = out[c.id]
            c = Concept(c.id, c.label, o.en + c.en, o.abbr + c.abbr, o.zh + c.zh, o.modality or c.modality,
                        o.intl + c.intl)
        out[c.id] = c
    return out


def modality_of(concept_id: str) -> str | None:
    """The modality class a MODALITY concept is a cue for (None for other concepts)."""
    c = concepts_by_id().get(concept_id)
    return c.modality if c else None
