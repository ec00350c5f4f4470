"""Rebuild the labelled modality set in this folder (images + labels.csv).

    .venv/bin/python tests/data/modality/make_set.py [--real tests/data]

Sources (attribution in tests/data/README.md):

* generated: colour fundus, angiograms and OCT B-scans from ``mmretinal_builder.samples.fundus``, device
  and external-eye photos from ``mmretinal_builder.samples.negatives``, and charts, tables, diagrams and
  illustrations drawn here (matplotlib / OpenCV); fixed seeds, so the set is reproducible;
* real: ``skimage.data.retina()`` (CC0) and other scikit-image CC0 / public-domain photographs as
  negatives, the four Kermany OCT B-scans (CC BY 4.0), and crops of the PALM article's figures and
  tables (CC BY 4.0) rendered with PyMuPDF from the ground-truth boxes.

Columns of labels.csv: file, modality (CFP/FFA/OCT/other), retinal (1/0), kind (what the image is),
source, caption (the printed caption or sub-caption where the image has one; empty otherwise).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
MAX_SIDE = 448


def _fit(img: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    h, w = img.shape[:2]
    s = max_side / max(h, w)
    if s < 1:
        img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return img


class SetWriter:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.rows: list[dict[str, str]] = []

    def add(self, name: str, img: np.ndarray, modality: str, kind: str, source: str, caption: str = "",
            png: bool = False, fit: bool = True) -> None:
        img = _fit(img) if fit else img
        ext = ".png" if png else ".jpg"
        params = [cv2.IMWRITE_PNG_COMPRESSION, 9] if png else [cv2.IMWRITE_JPEG_QUALITY, 85]
        ok, buf = cv2.imencode(ext, img, params)
        assert ok, name
        (self.out / f"{name}{ext}").write_bytes(buf.tobytes())
        self.rows.append({"file": f"{name}{ext}", "modality": modality, "retinal": "0" if modality == "other" else "1",
                          "kind": kind, "source": source, "caption": caption})

    def copy(self, path: Path, modality: str, kind: str, source: str) -> None:
        """Copy a file byte for byte (real material stays as released)."""
        name = f"real_{path.name}"
        (self.out / name).write_bytes(path.read_bytes())
        self.rows.append({"file": name, "modality": modality, "retinal": "0" if modality == "other" else "1",
                          "kind": kind, "source": source, "caption": ""})

    def write_csv(self) -> None:
        with (self.out / "labels.csv").open("w", newline="", encoding="utf-8") as f:
            wr = csv.DictWriter(f, ["file", "modality", "retinal", "kind", "source", "caption"], lineterminator="\n")
            wr.writeheader()
            wr.writerows(sorted(self.rows, key=lambda r: r["file"]))


# ----------------------------------------------------------------------------- generated retinal images


def generated_retinal(sw: SetWriter) -> None:
    from mmretinal_builder.samples import fundus as F

    rng = np.random.default_rng(20240601)
    cfp_lesions = [(), ("dot_haem", "ma"), ("drusen",), ("exudate_ring", "cws"), ("tessellation", "ppa"),
                   ("flame_all", "tortuous"), ("ga",), ("spicules", "pale_disc"), ("nvd", "prp"), ("serous",)]
    sizes = [(448, 448), (448, 336), (400, 400), (448, 300), (360, 360)]
    for i, les in enumerate(cfp_lesions):
        w, h = sizes[i % len(sizes)]
        img = F.draw_cfp(rng, w, h, lesions=les)
        sw.add(f"gen_cfp_{i:02d}", img, "CFP", "cfp", "generated")
    for i in range(3):  # posterior-pole crops without the dark surround, as atlases often print them
        img = F.draw_cfp(rng, 640, 640, lesions=cfp_lesions[i + 1])
        sw.add(f"gen_cfp_crop_{i:02d}", img[140:500, 120:520], "CFP", "cfp-crop", "generated")
    for i in range(2):  # red-free (green channel) photographs: grey, dark vessels
        img = F.draw_cfp(rng, 448, 448, lesions=cfp_lesions[i + 3])
        sw.add(f"gen_cfp_redfree_{i:02d}", img[:, :, 1], "CFP", "cfp-redfree", "generated")
    for i in range(4):
        sw.add(f"gen_cfp_retina_variant_{i:02d}", F.retina_variant(rng, 400, 400 if i % 2 else 320), "CFP",
               "cfp", "generated from skimage.data.retina")
    ffa_signs = [(), ("leak_macula",), ("leak_disc", "nonperf"), ("cnv",), ("smokestack",), ("window", "ma"),
                 ("blocked",), ("nonperf_sector",), ("delayed",), ("ma",), ("leak_macula", "cnv")]
    for i, sg in enumerate(ffa_signs):
        w, h = sizes[(i + 2) % len(sizes)]
        img = F.draw_ffa(rng, w, h, signs=sg, phase=i % 4)
        sw.add(f"gen_ffa_{i:02d}", img, "FFA", "ffa", "generated")
    oct_signs = [(), ("srf",), ("ped",), ("drusen",), ("cysts",), ("ez_loss",), ("erm", "hrf"), ("staphyloma",),
                 ("cysts", "srf"), ("rnfl_thin",)]
    oct_sizes = [(448, 224), (448, 300), (400, 400), (448, 160), (448, 260)]
    for i, sg in enumerate(oct_signs):
        w, h = oct_sizes[i % len(oct_sizes)]
        img = F.draw_oct(rng, w, h, signs=tuple(s for s in sg if s in F.OCT_SIGNS))
        sw.add(f"gen_oct_{i:02d}", img, "OCT", "oct", "generated")
    for i in range(2):  # Spectralis-style: infrared fundus image left, B-scan right
        fund = cv2.cvtColor(F.draw_cfp(rng, 224, 224), cv2.COLOR_BGR2GRAY)
        bscan = F.draw_oct(rng, 336, 224)
        sw.add(f"gen_oct_with_ir_{i:02d}", np.hstack([fund, bscan]), "OCT", "oct-with-ir", "generated")


# ----------------------------------------------------------------------------- generated negatives


def _fig_to_bgr(fig) -> np.ndarray:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    import matplotlib.pyplot as plt

    plt.close(fig)
    arr = np.frombuffer(buf.getvalue(), np.uint8)
    return cv2.imdecode(arr, cv2.IMREAD_COLOR)


def generated_negatives(sw: SetWriter) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mmretinal_builder.samples import negatives as N

    rng = np.random.default_rng(7)
    # charts
    x = np.linspace(0, 10, 50)
    fig, ax = plt.subplots(figsize=(4.4, 3.2))
    ax.plot(x, np.sin(x), label="OD")
    ax.plot(x, np.cos(x) * 0.8, "--", label="OS")
    ax.set_xlabel("months")
    ax.set_ylabel("BCVA (logMAR)")
    ax.legend()
    sw.add("chart_line", _fig_to_bgr(fig), "other", "chart", "generated", png=True)
    fig, ax = plt.subplots(figsize=(4.4, 3.2))
    ax.bar(["DR", "AMD", "RVO", "CSC", "PM"], rng.integers(10, 90, 5), color="tab:orange")
    ax.set_ylabel("eyes")
    sw.add("chart_bar", _fig_to_bgr(fig), "other", "chart", "generated", png=True)
    fig, ax = plt.subplots(figsize=(4.0, 4.0))
    ax.scatter(rng.normal(300, 50, 80), rng.normal(250, 40, 80), s=10, c="tab:red")
    ax.set_xlabel("CMT (um)")
    ax.set_ylabel("CST (um)")
    sw.add("chart_scatter", _fig_to_bgr(fig), "other", "chart", "generated", png=True)
    fig, ax = plt.subplots(figsize=(4.0, 4.0))
    ax.pie([40, 25, 20, 15], labels=["normal", "DR", "AMD", "other"], colors=["#d95f02", "#7570b3", "#1b9e77",
                                                                             "#e7298a"])
    sw.add("chart_pie", _fig_to_bgr(fig), "other", "chart", "generated", png=True)
    fig, ax = plt.subplots(figsize=(4.4, 3.2))
    ax.hist(rng.normal(120, 30, 2000), bins=40, color="0.3")
    ax.set_xlabel("grey level")
    sw.add("chart_histogram", _fig_to_bgr(fig), "other", "chart", "generated", png=True)
    fig, ax = plt.subplots(figsize=(3.6, 3.6))
    fpr = np.linspace(0, 1, 60)
    ax.plot(fpr, fpr ** 0.25, "k-")
    ax.plot([0, 1], [0, 1], "k:")
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("sensitivity")
    sw.add("chart_roc", _fig_to_bgr(fig), "other", "chart", "generated", png=True)
    fig, ax = plt.subplots(figsize=(4.4, 3.2))
    ax.boxplot([rng.normal(m, 10, 40) for m in (250, 280, 320)])
    ax.set_xticks([1, 2, 3], ["normal", "NPDR", "PDR"])
    sw.add("chart_box", _fig_to_bgr(fig), "other", "chart", "generated", png=True)
    fig, ax = plt.subplots(figsize=(4.0, 3.6))
    cm = rng.integers(0, 50, (4, 4)) + np.eye(4, dtype=int) * 120
    ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center")
    ax.set_xticks(range(4), ["CFP", "FFA", "OCT", "other"])
    ax.set_yticks(range(4), ["CFP", "FFA", "OCT", "other"])
    sw.add("chart_confusion_matrix", _fig_to_bgr(fig), "other", "chart", "generated", png=True)
    for i in range(2):
        sw.add(f"chart_raster_{i}", N.raster_chart(rng, 448, 320), "other", "chart", "generated", png=True)
    # tables
    for i, (rows, cols) in enumerate([(6, 4), (9, 6), (4, 3)]):
        fig, ax = plt.subplots(figsize=(4.4, 0.35 * rows + 0.4))
        ax.axis("off")
        cells = [[f"{rng.uniform(0, 100):.1f}" for _ in range(cols - 1)] for _ in range(rows)]
        t = ax.table(cellText=[[f"row {r + 1}", *c] for r, c in enumerate(cells)],
                     colLabels=["group", *[f"col {k}" for k in range(1, cols)]], loc="center")
        t.scale(1, 1.2)
        if i == 1:
            for k in range(cols):
                t[0, k].set_facecolor("#c6dbef")
        sw.add(f"table_{i}", _fig_to_bgr(fig), "other", "table", "generated", png=True)
    # diagrams: flowchart, eye schematic, retinal layer schematic, workflow with a fundus thumbnail
    img = np.full((320, 448, 3), 255, np.uint8)
    for k, label in enumerate(["PDF", "figures", "captions", "dataset"]):
        x0 = 20 + k * 108
        cv2.rectangle(img, (x0, 130), (x0 + 84, 190), (180, 120, 40), 2)
        cv2.putText(img, label, (x0 + 8, 166), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        if k:
            cv2.arrowedLine(img, (x0 - 22, 160), (x0 - 2, 160), (0, 0, 0), 2, tipLength=0.4)
    sw.add("diagram_flowchart", img, "other", "diagram", "generated", png=True)
    img = np.full((360, 448, 3), 250, np.uint8)
    cv2.circle(img, (224, 180), 140, (235, 235, 245), -1, cv2.LINE_AA)
    cv2.circle(img, (224, 180), 140, (60, 60, 160), 6, cv2.LINE_AA)  # retina line
    cv2.ellipse(img, (100, 180), (18, 60), 0, 0, 360, (200, 170, 120), -1, cv2.LINE_AA)  # lens
    cv2.ellipse(img, (80, 180), (40, 90), 0, 100, 260, (90, 60, 30), 4, cv2.LINE_AA)  # cornea
    cv2.rectangle(img, (355, 165), (440, 195), (120, 200, 230), -1)  # optic nerve
    for txt, pos in (("cornea", (10, 60)), ("lens", (120, 120)), ("retina", (250, 60)), ("optic nerve", (330, 230))):
        cv2.putText(img, txt, pos, cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    sw.add("diagram_eye_schematic", img, "other", "illustration", "generated", png=True)
    img = np.full((300, 448, 3), 255, np.uint8)
    colours = [(120, 200, 255), (90, 160, 230), (200, 150, 120), (160, 110, 90), (100, 220, 180), (60, 60, 200),
               (40, 90, 140)]
    y = 30
    for k, (col, name) in enumerate(zip(colours, ["RNFL", "GCL", "IPL", "INL", "ONL", "RPE", "choroid"],
                                        strict=True)):
        hgt = 22 + 6 * (k % 3)
        cv2.rectangle(img, (20, y), (330, y + hgt), col, -1)
        cv2.putText(img, name, (340, y + hgt - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        y += hgt + 4
    sw.add("diagram_retinal_layers", img, "other", "illustration", "generated", png=True)
    from mmretinal_builder.samples import fundus as F

    img = np.full((320, 448, 3), 255, np.uint8)
    thumb = cv2.resize(F.draw_cfp(rng, 256, 256), (96, 96), interpolation=cv2.INTER_AREA)
    img[30:126, 20:116] = thumb
    for k, label in enumerate(["segment", "grade", "report"]):
        x0 = 150 + k * 100
        cv2.rectangle(img, (x0, 50), (x0 + 80, 100), (60, 140, 60), 2)
        cv2.putText(img, label, (x0 + 6, 80), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.arrowedLine(img, (x0 - 28, 75), (x0 - 4, 75), (0, 0, 0), 2, tipLength=0.4)
    cv2.putText(img, "Figure workflow: expert grading of images", (20, 200), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                (0, 0, 0), 1, cv2.LINE_AA)
    sw.add("diagram_workflow_thumbnail", img, "other", "diagram", "generated", png=True)
    # photographs of devices and external eyes
    for i in range(3):
        sw.add(f"photo_device_{i}", N.device_photo(rng, 448, 336), "other", "photo-device", "generated")
    for i in range(3):
        sw.add(f"photo_external_eye_{i}", N.external_eye(rng, 448, 300), "other", "photo-external-eye",
               "generated")


# ----------------------------------------------------------------------------- real material


def real_material(sw: SetWriter, real: Path) -> None:
    import pymupdf
    from skimage import data

    sw.add("real_cfp_skimage_retina", cv2.cvtColor(data.retina(), cv2.COLOR_RGB2BGR), "CFP", "cfp",
           "skimage.data.retina (CC0)")
    r = cv2.cvtColor(data.retina(), cv2.COLOR_RGB2BGR)
    sw.add("real_cfp_skimage_retina_crop", r[350:1050, 300:1100], "CFP", "cfp-crop",
           "skimage.data.retina (CC0), posterior-pole crop")
    for p in sorted((real / "oct").glob("*.jpeg")):
        sw.copy(p, "OCT", "oct", "Kermany et al. 2018 (CC BY 4.0)")
    negatives = {
        "rocket": ("photo-device", data.rocket), "camera": ("photo", data.camera),
        "astronaut": ("photo", data.astronaut), "coffee": ("photo", data.coffee), "chelsea": ("photo", data.chelsea),
        "coins": ("photo", data.coins), "clock": ("photo-device", data.clock), "ihc": ("microscopy", data.immunohistochemistry),
        "cell": ("microscopy", data.cell), "hubble": ("photo", data.hubble_deep_field), "text": ("text", data.text),
        "horse": ("illustration", data.horse), "brick": ("texture", data.brick), "grass": ("texture", data.grass),
    }
    for name, (kind, fn) in negatives.items():
        img = np.asarray(fn())
        if img.dtype == bool:
            img = (~img).astype(np.uint8) * 255 if name == "horse" else img.astype(np.uint8) * 255
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if img.ndim == 3 else img
        sw.add(f"real_other_skimage_{name}", img, "other", kind, f"skimage.data.{fn.__name__} (CC0/public domain)")
    # PALM: panels cut from the embedded rasters, whole figures and tables rendered from the page
    palm = real if (real / "palm_scidata2024.pdf").exists() else real / "palm"
    pdf = palm / "palm_scidata2024.pdf"
    gt = json.loads((palm / "palm_scidata2024.gt.json").read_text(encoding="utf-8"))[0]
    doc = pymupdf.open(pdf)
    src = "PALM, Fang et al. 2024, Sci Data 11:99 (CC BY 4.0)"
    caps = {f["label"]: f["caption"] for f in gt["figures"]}
    for label, xref, grid, names in (("Fig. 1", 49, (2, 3), "abcdef"), ("Fig. 2", 72, (1, 3), "abc"),
                                     ("Fig. 3", 89, (1, 4), "abcd"), ("Fig. 4", 87, (1, 4), ["a1", "a2", "b1", "b2"])):
        pix = pymupdf.Pixmap(doc, xref)
        img = cv2.imdecode(np.frombuffer(pix.tobytes("png"), np.uint8), cv2.IMREAD_COLOR)
        for k, (y0, y1, x0, x1) in enumerate(_cells(img, *grid)):
            sw.add(f"real_palm_fig{label[-1]}_{names[k]}", img[y0:y1, x0:x1], "CFP", "cfp", src,
                   caption=caps[label])
    for f in gt["figures"]:
        page = doc[f["page"] - 1]
        w, h = page.rect.width, page.rect.height
        b = f["bbox"]
        pix = page.get_pixmap(dpi=110, clip=pymupdf.Rect(b[0] * w, b[1] * h, b[2] * w, b[3] * h))
        img = cv2.imdecode(np.frombuffer(pix.tobytes("png"), np.uint8), cv2.IMREAD_COLOR)
        modality = "CFP" if f["retinal"] == "yes" else "other"
        kind = "cfp-composite" if modality == "CFP" else "diagram"
        sw.add(f"real_palm_{f['label'].replace('. ', '').lower()}_whole", img, modality, kind, src,
               caption=f["caption"])
    for pno, bbox in ((3, (128, 233, 555, 299)), (5, (156, 233, 456, 291)), (6, (156, 47, 467, 105))):
        pix = doc[pno - 1].get_pixmap(dpi=130, clip=pymupdf.Rect(*bbox))
        img = cv2.imdecode(np.frombuffer(pix.tobytes("png"), np.uint8), cv2.IMREAD_COLOR)
        sw.add(f"real_palm_table_p{pno}", img, "other", "table", src, png=True)
    pix = doc[0].get_pixmap(dpi=100, clip=pymupdf.Rect(156, 420, 555, 640))
    img = cv2.imdecode(np.frombuffer(pix.tobytes("png"), np.uint8), cv2.IMREAD_COLOR)
    sw.add("real_palm_text_p1", img, "other", "text", src, png=True)


def _cells(img: np.ndarray, rows: int, cols: int) -> list[tuple[int, int, int, int]]:
    """Split a panel grid on its white gutters: the longest white runs between the panels."""
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)

    def spans(profile: np.ndarray, n: int) -> list[tuple[int, int]]:
        content = profile < 240
        runs, start = [], None
        for i, c in enumerate(np.append(content, False)):
            if c and start is None:
                start = i
            elif not c and start is not None:
                runs.append((start, i))
                start = None
        runs = sorted(sorted(runs, key=lambda r: r[1] - r[0], reverse=True)[:n])
        return runs

    ys = spans(grey.mean(axis=1), rows)
    out = []
    for y0, y1 in ys:
        for x0, x1 in spans(grey[y0:y1].mean(axis=0), cols):
            out.append((y0, y1, x0, x1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", type=Path, default=HERE.parent,
                    help="folder with oct/ and palm_scidata2024.pdf + .gt.json (directly or in palm/)")
    ap.add_argument("--out", type=Path, default=HERE)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for old in list(args.out.glob("*.jpg")) + list(args.out.glob("*.png")) + list(args.out.glob("*.jpeg")):
        old.unlink()
    sw = SetWriter(args.out)
    generated_retinal(sw)
    generated_negatives(sw)
    real_material(sw, args.real)
    sw.write_csv()
    total = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file())
    print(f"{len(sw.rows)} images, {total / 1e6:.2f} MB in {args.out}")


if __name__ == "__main__":
    main()
