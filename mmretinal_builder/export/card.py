"""The dataset card (``README.md``): Hub YAML metadata + a body generated from the data and the funnel.

Every number in the card comes from the export itself (split counts, pairs per book) or from the run's
``stats.json`` (per-stage in / kept / dropped by reason, review decisions). Plots are PNGs drawn with
matplotlib's Agg backend under ``plots/``. Nothing time-dependent is written, so the card is
reproducible.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..io import atomic_write_bytes
from ..schema import COLUMNS, MODALITIES, hf_features

#: License identifiers the Hub accepts in card metadata (huggingface.co/docs/hub/repositories-licenses).
HUB_LICENSES: frozenset[str] = frozenset({
    "apache-2.0", "mit", "openrail", "bigscience-openrail-m", "creativeml-openrail-m", "bigscience-bloom-rail-1.0",
    "bigcode-openrail-m", "afl-3.0", "artistic-2.0", "bsl-1.0", "bsd", "bsd-2-clause", "bsd-3-clause",
    "bsd-3-clause-clear", "c-uda", "cc", "cc0-1.0", "cc-by-2.0", "cc-by-2.5", "cc-by-3.0", "cc-by-4.0",
    "cc-by-sa-3.0", "cc-by-sa-4.0", "cc-by-nc-2.0", "cc-by-nc-3.0", "cc-by-nc-4.0", "cc-by-nd-4.0",
    "cc-by-nc-nd-3.0", "cc-by-nc-nd-4.0", "cc-by-nc-sa-2.0", "cc-by-nc-sa-3.0", "cc-by-nc-sa-4.0",
    "cdla-sharing-1.0", "cdla-permissive-1.0", "cdla-permissive-2.0", "wtfpl", "ecl-2.0", "epl-1.0", "epl-2.0",
    "etalab-2.0", "eupl-1.1", "eupl-1.2", "agpl-3.0", "gfdl", "gpl", "gpl-2.0", "gpl-3.0", "lgpl", "lgpl-2.1",
    "lgpl-3.0", "isc", "h-research", "intel-research", "lppl-1.3c", "ms-pl", "apple-ascl", "apple-amlr",
    "mpl-2.0", "odc-by", "odbl", "openrail++", "osl-3.0", "postgresql", "ofl-1.1", "ncsa", "unlicense", "zlib",
    "pddl", "lgpl-lr", "deepfloyd-if-license", "unknown", "other",
})

#: Task categories and size buckets of the Hub's dataset metadata that this card uses.
TASK_CATEGORIES = ["image-to-text", "zero-shot-image-classification", "image-classification"]
SIZE_CATEGORIES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                   (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M")]
TAGS = ["medical", "ophthalmology", "fundus", "retina", "image-text", "clip"]

MM_RETINAL_BIBTEX = """@inproceedings{wu2024mmretinal,
  title     = {MM-Retinal: Knowledge-Enhanced Foundational Pretraining with Fundus Image-Text Expertise},
  author    = {Wu, Ruiqi and Zhang, Chenran and Zhang, Jianle and Zhou, Yi and Zhou, Tao and Fu, Huazhu},
  booktitle = {Medical Image Computing and Computer Assisted Intervention -- MICCAI 2024},
  year      = {2024}
}"""

TOOLKIT_BIBTEX = """@software{mmretinal_keepfit,
  title   = {mmretinal-keepfit: building fundus image-text datasets from ophthalmology atlases},
  note    = {mmretinal_builder, the dataset builder of the mmretinal-keepfit toolkit},
  version = {VERSION}
}"""


@dataclass
class CardFacts:
    """What the card is written from (gathered by the exporter)."""

    name: str
    splits: dict[str, dict[str, int]]  # split -> num_examples, num_shards, num_bytes, download_size
    books: dict[str, dict[str, Any]]  # book -> {license, lang, pairs, split}
    modality_counts: dict[str, int]
    caption_words: list[int]
    funnel: dict[str, Any] | None  # the run's stats.json (or None when unavailable)
    pair_types: dict[str, int] = field(default_factory=dict)  # pairs per pair_type (figure, compound, panel)
    has_zh: bool = False
    text_layers: dict[str, int] = field(default_factory=dict)  # pairs per page text layer
    plots: dict[str, str] = field(default_factory=dict)  # plot title -> path relative to the card


# ----------------------------------------------------------------------------- metadata


def hub_license(value: str) -> str:
    """A free-text licence ('CC BY-NC 4.0') as a Hub licence id ('cc-by-nc-4.0'), else 'other'."""
    v = value.strip().lower()
    if v in ("", "unknown", "none", "n/a"):
        return "unknown"
    slug = re.sub(r"[\s_/]+", "-", v)
    slug = re.sub(r"^cc-?0(-1\.0)?$", "cc0-1.0", slug)
    slug = re.sub(r"-+", "-", slug).strip("-")
    slug = slug.replace("creative-commons-", "cc-").replace("attribution", "by")
    return slug if slug in HUB_LICENSES else "other"


def _licence_slug(value: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", value.strip().lower()).strip("-") or "custom"


def size_category(n: int) -> str:
    for limit, name in SIZE_CATEGORIES:
        if n < limit:
            return name
    return "n>1T"


def _languages(facts: CardFacts) -> list[str]:
    langs: set[str] = {"en"}
    for meta in facts.books.values():
        for part in re.split(r"[+,\s]+", str(meta.get("lang") or "")):
            if re.fullmatch(r"[a-z]{2,3}", part):
                langs.add(part)
    if facts.has_zh:
        langs.add("zh")
    return sorted(langs)


def card_metadata(facts: CardFacts) -> dict[str, Any]:
    """The YAML header, in the key order the Hub's own cards use."""
    ids = sorted({hub_license(str(m.get("license") or "unknown")) for m in facts.books.values()}) or ["unknown"]
    meta: dict[str, Any] = {"license": ids[0] if len(ids) == 1 else ids}
    if "other" in ids:
        others = sorted({str(m.get("license")) for m in facts.books.values()
                         if hub_license(str(m.get("license") or "")) == "other"})
        meta["license_name"] = _licence_slug(others[0]) if len(others) == 1 else "per-book-licences"
        meta["license_link"] = "LICENSE.md"
    total = sum(s["num_examples"] for s in facts.splits.values())
    meta.update({
        "language": _languages(facts),
        "task_categories": TASK_CATEGORIES[:2],
        "size_categories": [size_category(total)],
        "pretty_name": facts.name,
        "tags": TAGS,
        "configs": [{
            "config_name": "default",
            "data_files": [{"split": s, "path": f"data/{s}-*"} for s in facts.splits],
        }],
        "dataset_info": {
            "features": hf_features()._to_yaml_list(),
            "splits": [{"name": s, "num_bytes": v["num_bytes"], "num_examples": v["num_examples"]}
                       for s, v in facts.splits.items()],
            "download_size": sum(v["download_size"] for v in facts.splits.values()),
            "dataset_size": sum(v["num_bytes"] for v in facts.splits.values()),
        },
    })
    return meta


def licence_file(facts: CardFacts) -> str:
    """``LICENSE.md`` listing each book's licence (written when some licence has no Hub id)."""
    lines = [f"# Licences of {facts.name}", "",
             "Each pair carries the licence of the book it comes from (column `license`):", ""]
    lines += [f"* {_md(book)}: {_md(str(m.get('license') or 'unknown'))}" for book, m in sorted(facts.books.items())]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- body


def _md(text: str) -> str:
    """Escape a value for a markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(_md(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


#: What each stage of the builder does, for the card's funnel table.
STAGE_DESCRIPTIONS: dict[str, str] = {
    "pages": "read every page (text, images, drawings; OCR of scanned pages and broken text layers); counts pages",
    "pair": "find figures (embedded images, vector drawings) and their captions; pair them by geometry and figure "
            "numbers, never by order (in: pairs formed plus graphics and captions left alone)",
    "crop": "cut each figure's image: its own pixels when it is one embedded image, else a render at 300 dpi or more",
    "extract": "find figures (embedded images, vector drawings) and their captions on each page; pair them by "
               "geometry and figure numbers, never by order",
    "panels": "split compound figures into panels and the caption into per-panel sub-captions; each figure "
              "becomes its image-text pairs (the figure, or the whole figure and each panel)",
    "clean": "clean captions (citations, courtesy lines), split English / Chinese, tag ophthalmic entities",
    "classify": "classify each pair's modality (CFP, FFA, OCT, other) and drop non-retinal pictures (a figure "
                "is kept when any of its panels is retinal)",
    "quality": "filter low-quality images (too small, blank, blurry, extreme aspect)",
    "dedup": "merge near-duplicate images across the run",
    "review": "apply human review decisions (reject, edit caption, modality, panels)",
    "export": "write this dataset",
}


def _funnel_section(funnel: dict[str, Any] | None) -> list[str]:
    if not funnel or not funnel.get("stages"):
        return ["The run's `stats.json` was not available, so the per-stage counts are not shown."]
    rows = []
    for s in funnel["stages"]:
        dropped = ", ".join(f"{k}: {v}" for k, v in s.get("dropped", {}).items()) or "-"
        n_in = f"{s['in']} (formed from {s['items_in']})" if "items_in" in s else s["in"]
        rows.append([s["stage"], STAGE_DESCRIPTIONS.get(s["stage"], ""), n_in, s["kept"], dropped])
    out = ["The pipeline ran these stages; each counts the items it received, kept and dropped (with a "
           "reason per drop), from the run's `stats.json`. A stage that forms items of another kind counts what it "
           "formed from what it read: up to the panels stage an item is a figure, the panels stage turns each "
           "figure into its image-text pairs, which every later stage counts. Each row's `lineage` column lists "
           "the rule every stage applied to it.", "",
           _table(["stage", "what it does", "in", "kept", "dropped (reason: n)"], rows)]
    books = funnel.get("books")
    if books:
        out += ["", f"Books: {books.get('ok', '?')} processed, {books.get('failed', 0)} failed, "
                    f"of {books.get('total', '?')}."]
    return out


def _review_section(funnel: dict[str, Any] | None) -> list[str]:
    """Pairs changed / rejected by human review, when the run had a review stage that did something."""
    for s in (funnel or {}).get("stages", []):
        if s["stage"] != "review":
            continue
        # the Filter's own keep:/mark: counts repeat the review counters
        counters = {k: v for k, v in s.get("counters", {}).items() if not k.startswith(("_", "keep:", "mark:")) and v}
        dropped = {k: v for k, v in s.get("dropped", {}).items() if v}
        if not counters and not dropped:
            return []
        rows = [[f"{k} (dropped)", v] for k, v in dropped.items()] + [[k, v] for k, v in counters.items()]
        return ["### Human review", "",
                f"Review decisions were applied to this build: of {s['in']} records reviewed or up for review, "
                f"{s['kept']} were kept and {sum(dropped.values())} rejected.", "",
                _table(["decision", "count"], rows), ""]
    return []


def render_card(facts: CardFacts, version: str = "") -> str:
    """The full ``README.md`` text."""
    header = yaml.safe_dump(card_metadata(facts), sort_keys=False, allow_unicode=True, width=1000)
    total = sum(s["num_examples"] for s in facts.splits.values())
    n_books = len(facts.books)
    body: list[str] = [
        f"# {facts.name}", "",
        f"{total} fundus image-text pairs extracted from {n_books} ophthalmology "
        f"book{'s' if n_books != 1 else ''} (PDF) by `mmretinal_builder`, in the spirit of MM-Retinal "
        "(Wu et al., MICCAI 2024). Each row is a figure, the whole of a multi-panel figure, or one of its panels, "
        "with its caption, modality, provenance (book, page, box), lineage (what each build stage decided) and "
        "the licence of its source.", "",
        "```python", "from datasets import load_dataset", "",
        'ds = load_dataset("path/or/repo-id")  # a DatasetDict with the splits below',
        "```", "",
        "## Fields", "",
        _table(["column", "type", "description"],
               [[f"`{c.name}`", _feature_type(c.name), c.description] for c in COLUMNS]), "",
        f"`modality` is a class label: {', '.join(f'{i} = {m}' for i, m in enumerate(MODALITIES))}.", "",
        "A figure with panels gives a row for the whole figure (`pair_type` compound, its full caption) and one "
        "per panel (its sub-caption); filter on `pair_type` to train on one kind.", "",
        "## Splits", "",
        "Splits are made by book: all pairs of a book are in the same split, so no book's style or "
        "near-duplicate figures leak across splits.", "",
        _table(["split", "pairs", "books", "parquet files"],
               [[s, v["num_examples"], sum(1 for m in facts.books.values() if m.get("split") == s), v["num_shards"]]
                for s, v in facts.splits.items()]), "",
        "## Statistics", "",
        _table(["modality", "pairs"], [[m, facts.modality_counts.get(m, 0)] for m in MODALITIES]), "",
        _table(["pair_type", "pairs"], [[k, facts.pair_types.get(k, 0)] for k in ("figure", "compound", "panel")]),
        "",
    ]
    words = sorted(facts.caption_words)
    if words:
        body += [f"Caption length (words): median {words[len(words) // 2]}, max {words[-1]}, "
                 f"{sum(1 for w in words if w == 0)} empty.", ""]
    for title, rel in facts.plots.items():
        body += [f"![{title}]({rel})", ""]
    body += ["## How it was built", "",
             "Built automatically from the books' PDF files by `mmretinal_builder` (a recipe of stages, "
             "deterministic: the same books and recipe give the same files). Every pair keeps its provenance "
             "(column `provenance`: book, page, box, the rule that found it, scores, review) and its lineage "
             "(column `lineage`: every stage, in order, with the rule that decided and what it saw; "
             "`mmretinal trace RUN_DIR PAIR_ID` prints it).", "",
             *_funnel_section(facts.funnel), ""]
    body += _review_section(facts.funnel)
    body += ["## Sources", "",
             _table(["book", "licence", "language", "pairs", "split"],
                    [[b, m.get("license") or "unknown", m.get("lang") or "-", m.get("pairs", 0), m.get("split", "-")]
                     for b, m in sorted(facts.books.items())]), "",
             "The images and captions remain the work of the books' authors and publishers; use them under the "
             "licence given for each book.", "",
             "## Known limitations", "",
             *_limitations(facts), "",
             "## Citation", "",
             "If you use this dataset, cite the MM-Retinal paper and this toolkit:", "",
             "```bibtex", MM_RETINAL_BIBTEX, "", TOOLKIT_BIBTEX.replace("VERSION", version or "unknown"), "```", ""]
    return f"---\n{header}---\n\n" + "\n".join(body)


def _feature_type(column: str) -> str:
    feat = hf_features()[column]
    kind = type(feat).__name__
    if kind == "Value":
        return feat.dtype
    if kind == "ClassLabel":
        return "class label"
    if kind == "Image":
        return "image"
    inner = getattr(feat, "feature", None)
    length = getattr(feat, "length", -1)
    inner_t = f"struct{{{', '.join(inner)}}}" if isinstance(inner, dict) else getattr(inner, "dtype", "?")
    return f"list[{inner_t}]" + (f" (length {length})" if length and length > 0 else "")


def _limitations(facts: CardFacts) -> list[str]:
    total = sum(s["num_examples"] for s in facts.splits.values()) or 1
    other = facts.modality_counts.get("other", 0)
    out = [
        "* Pairs were found automatically. Figure detection, caption pairing, panel splitting and modality "
        "classification all make mistakes; the provenance of each row says which rule produced it, and "
        "reviewed pairs carry their review decision.",
        "* Captions are printed text from books: they describe the whole figure or a panel in clinical language, "
        "may reference other figures or the main text, and may carry OCR errors on scanned pages.",
        f"* {other} pairs ({100 * other / total:.1f}%) have modality `other` (not classified as CFP, FFA or OCT).",
    ]
    ocr = sum(v for k, v in facts.text_layers.items() if k != "ok")
    if ocr:
        out.append(f"* {ocr} pairs come from pages without a usable text layer (scans or broken encodings); "
                   "their captions were read by OCR.")
    if not facts.has_zh:
        out.append("* No Chinese captions: `caption_zh` is empty in every row.")
    out.append("* The sources are atlases of typical cases: the distribution of diseases, devices and image "
               "quality is not that of a clinic. Not for clinical use.")
    return out


# ----------------------------------------------------------------------------- plots


def write_plots(facts: CardFacts, plots_dir: Path) -> dict[str, str]:
    """Draw the card's plots as PNG under ``plots_dir``; returns title -> path relative to the card."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    plots_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, str] = {}
    meta = {"Software": None}  # no version string in the PNG: identical across matplotlib patch releases

    def save(fig: Any, name: str, title: str) -> None:
        fig.tight_layout()
        buf = io.BytesIO()  # through a buffer: the plot file is written atomically like every output
        fig.savefig(buf, format="png", dpi=100, metadata=meta)
        atomic_write_bytes(plots_dir / name, buf.getvalue())
        plt.close(fig)
        out[title] = f"{plots_dir.name}/{name}"

    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(list(MODALITIES), [facts.modality_counts.get(m, 0) for m in MODALITIES], color="#4c72b0")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("pairs")
    ax.set_title("Modality distribution")
    save(fig, "modality.png", "Modality distribution")

    fig, ax = plt.subplots(figsize=(5, 3))
    ax.hist(facts.caption_words or [0], bins=min(40, max(5, len(set(facts.caption_words)))), color="#55a868")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("caption length (words)")
    ax.set_ylabel("pairs")
    ax.set_title("Caption length")
    save(fig, "caption_length.png", "Caption length")

    books = sorted(facts.books.items(), key=lambda kv: (-kv[1].get("pairs", 0), kv[0]))[:30]
    fig, ax = plt.subplots(figsize=(6, max(2.0, 0.3 * len(books) + 1)))
    ax.barh([_short(b) for b, _ in books][::-1], [m.get("pairs", 0) for _, m in books][::-1], color="#c44e52")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("pairs")
    ax.set_title("Pairs per book" + (" (30 largest)" if len(facts.books) > 30 else ""))
    save(fig, "pairs_per_book.png", "Pairs per book")
    return out


def _short(name: str, n: int = 40) -> str:
    return name if len(name) <= n else name[: n - 3] + "..."


# ----------------------------------------------------------------------------- local validation


def check_card(text: str, dataset_dir: Path | None = None) -> list[str]:
    """Problems in a card's metadata, checked locally (the Hub's validator needs the network).

    Parses the YAML with ``huggingface_hub``'s :class:`DatasetCard`, checks licence, task, size and
    language values against the Hub's vocabularies, parses ``configs`` / ``dataset_info`` the way
    ``datasets`` does, and checks that every split's ``data_files`` match files in ``dataset_dir``.
    """
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    problems: list[str] = []
    card = DatasetCard(text)
    data = card.data
    lic = data.license if isinstance(data.license, list) else [data.license]
    for v in lic:
        if v not in HUB_LICENSES:
            problems.append(f"license {v!r} is not a Hub licence id")
    if "other" in lic and not data.get("license_name"):
        problems.append("license 'other' needs license_name")
    for v in data.task_categories or []:
        if v not in TASK_CATEGORIES:
            problems.append(f"unknown task category {v!r}")
    for v in data.size_categories or []:
        if v not in {name for _, name in SIZE_CATEGORIES} | {"n>1T"}:
            problems.append(f"unknown size category {v!r}")
    for v in data.language or []:
        if not re.fullmatch(r"[a-z]{2,3}", v):
            problems.append(f"language {v!r} is not an ISO 639 code")
    if not data.pretty_name:
        problems.append("pretty_name missing")
    configs = MetadataConfigs.from_dataset_card_data(data)
    if "default" not in configs:
        problems.append("configs: no 'default' config")
    infos = DatasetInfosDict.from_dataset_card_data(data)
    info = infos.get("default")
    if info is None or info.features is None:
        problems.append("dataset_info.features missing")
    elif info.features != hf_features():
        problems.append("dataset_info.features differ from schema.hf_features()")
    if dataset_dir is not None:
        for cfg in configs.values():
            for entry in cfg.get("data_files", []):
                pattern = entry["path"] if isinstance(entry["path"], str) else entry["path"][0]
                if not list(Path(dataset_dir).glob(pattern)):
                    problems.append(f"configs: split {entry['split']!r}: no file matches {pattern!r}")
    return problems
