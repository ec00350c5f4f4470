"""Peak memory of ``mmretinal export`` on a large generated run (acceptance: under 2 GB for 50,000 pairs).

Writes a run directory with N pairs (procedural JPEGs of 128-256 px; 90% single figures, 10% panels of
two-panel figures with their own crops), then runs ``python -m mmretinal_builder.cli export`` in a
subprocess and measures its peak RSS two ways: polling with psutil, and ``ru_maxrss`` of the waited-for
child from ``resource.getrusage(RUSAGE_CHILDREN)``. Prints a table and writes JSON.

    nice python benchmarks/export_rss.py --pairs 50000 --json export_rss.json
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mmretinal_builder.io import dumps, write_json  # noqa: E402
from mmretinal_builder.schema import MODALITIES, Figure, Panel, Provenance, figure_id, pairs_of  # noqa: E402

LIMIT_BYTES = 2 * 1024**3


def procedural_jpeg(rng: np.random.Generator) -> tuple[bytes, tuple[int, int]]:
    """A unique small fundus-like picture: a reddish disc on dark ground with smooth noise."""
    w, h = (int(v) for v in rng.integers(128, 257, size=2))
    low = rng.random((12, 12, 3)) * 60
    noise = np.asarray(Image.fromarray(low.astype(np.uint8)).resize((w, h), Image.BILINEAR), dtype=np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    r = ((xx - w / 2) ** 2 / (w / 2) ** 2 + (yy - h / 2) ** 2 / (h / 2) ** 2) ** 0.5
    disc = np.clip(1.1 - r, 0, 1)[..., None] * np.array([200, 90, 40], dtype=np.float32)
    img = np.clip(disc + noise, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=85)
    return buf.getvalue(), (w, h)


class FastStore:
    """``ImageStore``'s layout without its per-file fsync (50,000 fsyncs would dominate the set-up)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def put(self, data: bytes, ext: str) -> str:
        digest = hashlib.sha256(data).hexdigest()
        rel = f"images/{digest[:2]}/{digest}.{ext}"
        path = self.run_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return rel


def write_run(run_dir: Path, pairs: int, books: int, seed: int) -> dict[str, int]:
    """Generate the run directory (pairs.jsonl streamed line by line, images in the store's layout)."""
    rng = np.random.default_rng(seed)
    store = FastStore(run_dir)
    n_figs = n_pairs = img_bytes = 0
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / "pairs.jsonl").open("w", encoding="utf-8") as f:
        while n_pairs < pairs:
            book = f"atlas_{n_figs % books:03d}.pdf"
            page = 1 + n_figs // books
            bbox = [40.0, 60.0, 40.0 + 200, 60.0 + 150 + (n_figs % 7)]
            data, (w, h) = procedural_jpeg(rng)
            img_bytes += len(data)
            rel = store.put(data, "jpg")
            fid = figure_id(book, page, bbox)
            prov = Provenance(book=book, page=page, bbox=bbox, page_size=[595.0, 842.0], rule="embedded-raster")
            caption = f"Fig. {page}-{n_figs} " + " ".join(rng.choice(WORDS, size=int(rng.integers(5, 60))))
            fig = Figure(id=fid, book=book, page=page, bbox=bbox, page_size=[595.0, 842.0], label=f"Fig. {page}",
                         caption=caption, image=rel, image_size=[w, h], provenance=prov)
            if n_figs % 20 == 0 and pairs - n_pairs >= 2:  # 10% of pairs are panels with their own crop
                panels = []
                for i in range(2):
                    pdata, _ = procedural_jpeg(rng)
                    img_bytes += len(pdata)
                    panels.append(Panel(index=i, label="AB"[i], bbox=bbox, bbox_px=[0, 0, w // 2, h],
                                        image=store.put(pdata, "jpg"), caption=f"{caption} ({'AB'[i]})"))
                fig.panels = panels
            for p in pairs_of(fig, compound=False):  # what classify would have decided
                p.modality, p.modality_confidence = MODALITIES[n_figs % 4], 0.9
                f.write(dumps(p) + "\n")
                n_pairs += 1
            n_figs += 1
    write_json(run_dir / "run.json", {"recipe": {"name": "rss-benchmark", "license": "CC BY 4.0", "books": {},
                                                 "stages": []}, "books": []})
    write_json(run_dir / "stats.json", {"stages": [{"stage": "extract", "in": 0, "kept": n_figs, "dropped": {},
                                                    "counters": {}}]})
    return {"figures": n_figs, "pairs": n_pairs, "image_bytes": img_bytes}


_VOCAB = ("retina macula drusen haemorrhage exudate optic disc cup oedema neovascularisation vessel artery vein "
          "fluorescein angiography late phase early leakage staining pooling choroid pigment epithelium "
          "detachment fovea scar laser photocoagulation")
WORDS = np.array(_VOCAB.split(" "))


def measure(cmd: list[str]) -> dict[str, float]:
    """Run ``cmd``; peak RSS from psutil polling (this child and its children) and from getrusage."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = 0
    done = threading.Event()

    def poll() -> None:
        nonlocal peak
        ps = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True))
            except psutil.NoSuchProcess:
                return
            peak = max(peak, rss)
            time.sleep(0.05)

    t = threading.Thread(target=poll, daemon=True)
    t.start()
    output, _ = proc.communicate()
    done.set()
    t.join()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"export failed ({proc.returncode}):\n{output}")
    maxrss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KB on Linux, of the largest child
    return {"seconds": seconds, "peak_rss_psutil": peak,
            "peak_rss_getrusage": maxrss_kb * 1024 if maxrss_kb > before else float("nan"), "output": output}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=50_000)
    ap.add_argument("--books", type=int, default=40)
    ap.add_argument("--shard-rows", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=None, help="where to build (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the generated run and dataset")
    ap.add_argument("--json", type=Path, default=Path("export_rss.json"), help="result file")
    args = ap.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="export_rss_"))
    try:
        t0 = time.perf_counter()
        gen = write_run(work / "run", args.pairs, args.books, args.seed)
        gen_s = time.perf_counter() - t0
        cmd = [sys.executable, "-m", "mmretinal_builder.cli", "export", str(work / "run"), "--out",
               str(work / "dataset"), "--shard-rows", str(args.shard_rows)]
        m = measure(cmd)
        import pyarrow.parquet as pq

        files = sorted((work / "dataset" / "data").glob("*.parquet"))
        rows = sum(pq.read_metadata(p).num_rows for p in files)
        parquet_bytes = sum(p.stat().st_size for p in files)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    peak = max(m["peak_rss_psutil"], m["peak_rss_getrusage"] if m["peak_rss_getrusage"] == m["peak_rss_getrusage"]
               else 0)
    result = {
        "pairs": gen["pairs"], "figures": gen["figures"], "rows_written": rows, "parquet_files": len(files),
        "parquet_bytes": parquet_bytes, "image_bytes": gen["image_bytes"], "generate_seconds": round(gen_s, 1),
        "export_seconds": round(m["seconds"], 1), "peak_rss_psutil_mb": round(m["peak_rss_psutil"] / 2**20, 1),
        "peak_rss_getrusage_mb": round(m["peak_rss_getrusage"] / 2**20, 1), "limit_mb": LIMIT_BYTES / 2**20,
        "ok": peak < LIMIT_BYTES and rows == gen["pairs"], "python": platform.python_version(),
        "cpus": psutil.cpu_count(),
    }
    width = max(len(k) for k in result)
    print(f"{'metric':<{width}}  value")
    for k, v in result.items():
        print(f"{k:<{width}}  {v}")
    args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"-> {args.json}")
    if not result["ok"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
