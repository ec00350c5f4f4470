"""The whole review round trip on a user's path, against a real Label Studio on 127.0.0.1.

build -> ``mmretinal review serve --run`` (a subprocess; its venv created from scratch from the committed lock
in an empty ``MMRETINAL_LS_VENV``, so a registry move that breaks a fresh install fails here) -> ``review push``
with no URL or token (read from the server's file) -> reviewers annotate through the API (accept, reject,
caption edit, modality change, panel box change) -> ``review pull`` into a temp copy of annotations/decisions
-> rebuild -> the exported dataset reflects every decision; a second push creates no duplicates; Ctrl-C stops
the server and keeps its data.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mmretinal_builder.review.server import MARKER, SERVER_FILE
from mmretinal_builder.samples import generate_samples
from mmretinal_builder.schema import MODALITIES

from .ls_server import review_serve

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path, env: dict[str, str]) -> str:
    res = subprocess.run([sys.executable, "-m", "mmretinal_builder.cli", *args], capture_output=True, text=True,
                         timeout=900, cwd=cwd, env={**os.environ, **env})
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def dataset_rows(run: Path) -> list[dict]:
    rows = []
    for f in sorted((run / "dataset" / "data").glob("*.parquet")):
        rows.extend(pq.read_table(f, columns=["pair_id", "figure_id", "caption", "figure_caption", "modality",
                                              "bbox", "panel_label"]).to_pylist())
    return rows


def rect(value: dict) -> dict:
    return {"from_name": "panels", "to_name": "image", "type": "rectanglelabels", "value": value,
            "original_width": 1, "original_height": 1}


def choice(name: str, value: str) -> dict:
    return {"from_name": name, "to_name": "image", "type": "choices", "value": {"choices": [value]}}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_review_round_trip(tmp_path):
    # The user's working folder: a copy of the repo's annotations/ (label config, decisions) and the run below
    # it, so `review serve` takes it as the document root and `review pull` writes to annotations/decisions.
    work = tmp_path / "work"
    shutil.copytree(REPO / "annotations", work / "annotations")
    books, run = tmp_path / "books", work / "runs" / "r"
    decisions = work / "annotations" / "decisions"
    venv = tmp_path / "ls-venv"  # empty: the server's venv is created from constraints/label-studio.txt
    data_dir = tmp_path / "xdg" / "mmretinal" / "label-studio"  # review serve's default, under XDG_DATA_HOME
    env = {"MMRETINAL_LS_VENV": str(venv), "XDG_DATA_HOME": str(tmp_path / "xdg")}
    for name in ("LABEL_STUDIO_API_KEY", "LABEL_STUDIO_USER_TOKEN", "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT"):
        env[name] = ""  # nothing from the caller's environment: the server file must be enough
    generate_samples(books, seed=5, books=2, figures_per_book=10, scanned=False, broken_text=False)
    recipe = work / "recipe.yaml"
    recipe.write_text("stages:\n  - extract\n  - panels\n  - review\n  - export: {splits: {train: 1.0}}\n")
    cli("build", str(books), "--out", "runs/r", "--recipe", "recipe.yaml", "--no-progress", cwd=work, env=env)
    before = dataset_rows(run)
    figures = [json.loads(line) for line in (run / "figures.jsonl").read_text().splitlines()]
    singles = [f for f in figures if not f["panels"]]
    compound = next(f for f in figures if len(f["panels"]) >= 2)
    assert len(singles) >= 4, "the sample books have single-image figures"
    accept, reject, edit, modal = singles[:4]

    t0 = time.monotonic()
    with review_serve(["--run", "runs/r"], cwd=work, env=env) as srv:
        ready_s = time.monotonic() - t0
        assert "Creating Label Studio's virtualenv" in srv.output, srv.output
        assert (venv / MARKER).is_file()
        info_file = data_dir / SERVER_FILE
        assert stat.S_IMODE(info_file.stat().st_mode) == 0o600
        info = json.loads(info_file.read_text())
        assert info["url"] == f"http://127.0.0.1:{srv.port}" and info["token"] in srv.output
        assert info["document_root"] == str(work.resolve())
        timings = [ln.strip() for ln in srv.lines if "installed in" in ln or "answered after" in ln]
        print(f"review serve ready after {ready_s:.0f} s (fresh venv + first start): {timings}")

        out = cli("review", "push", "runs/r", cwd=work, env=env)
        assert f"{len(figures)} created" in out

        from label_studio_sdk.client import LabelStudio

        ls = LabelStudio(base_url=info["url"], api_key=info["token"])
        projects = [p for p in ls.projects.list() if p.title == "mmretinal review"]
        assert len(projects) == 1, "review serve created the project; push found it"
        project = projects[0]
        storages = ls.import_storage.local.list(project=project.id)
        assert [Path(st.path) for st in storages] == [(run / "images").resolve()]
        tasks = {t.data["pair_id"]: t for t in ls.tasks.list(project=project.id)}
        assert len(tasks) == len(figures)
        # the reviewers' browser gets the image from the local-files storage review serve registered
        req = urllib.request.Request(info["url"] + tasks[accept["id"]].data["image"],
                                     headers={"Authorization": f"Token {info['token']}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith("image/")
            assert r.read() == (run / accept["image"]).read_bytes()
        new_caption = edit["caption"] + " Reviewed."
        first = json.loads(json.dumps(tasks[compound["id"]].predictions[0].result))
        boxes = [r for r in first if r["from_name"] == "panels"]
        boxes[0]["value"]["width"] = boxes[0]["value"]["width"] * 0.5  # narrow panel 1 to half its width
        ls.annotations.create(id=tasks[accept["id"]].id, result=[choice("decision", "accept")])
        ls.annotations.create(id=tasks[reject["id"]].id, result=[choice("decision", "reject")])
        ls.annotations.create(id=tasks[edit["id"]].id, result=[
            choice("decision", "accept"),
            {"from_name": "caption", "to_name": "image", "type": "textarea", "value": {"text": [new_caption]}}])
        ls.annotations.create(id=tasks[modal["id"]].id, result=[choice("decision", "accept"), choice("modality", "FFA")])
        ls.annotations.create(id=tasks[compound["id"]].id, result=[choice("decision", "accept"), *boxes])

        out = cli("review", "pull", "runs/r", cwd=work, env=env)
        assert "5 new stored" in out
        assert len(list(decisions.glob("*.jsonl"))) == 1
        cli("build", str(books), "--out", "runs/r", "--recipe", "recipe.yaml", "--no-progress", cwd=work, env=env)
        after = dataset_rows(run)

        by_fig: dict[str, list[dict]] = {}
        for r in after:
            by_fig.setdefault(r["figure_id"], []).append(r)
        assert reject["id"] not in by_fig
        assert accept["id"] in by_fig
        assert by_fig[edit["id"]][0]["figure_caption"] == new_caption
        assert MODALITIES[by_fig[modal["id"]][0]["modality"]] == "FFA"
        old_rows = sorted((r for r in before if r["figure_id"] == compound["id"]), key=lambda r: r["pair_id"])
        new_rows = sorted(by_fig[compound["id"]], key=lambda r: r["pair_id"])
        old_w = old_rows[0]["bbox"][2] - old_rows[0]["bbox"][0]
        new_w = new_rows[0]["bbox"][2] - new_rows[0]["bbox"][0]
        assert new_w == pytest.approx(old_w * 0.5, rel=0.05)
        assert len(after) == len(before) - 1
        stats = json.loads((run / "stats.json").read_text())
        review = next(s for s in stats["stages"] if s["stage"] == "review")
        assert review["dropped"] == {"review": 1}

        # A second push after the rebuild: changed pairs are updated, nothing is duplicated.
        out = cli("review", "push", "runs/r", cwd=work, env=env)
        assert "0 created" in out
        assert len(list(ls.tasks.list(project=project.id))) == len(figures)

        # Ctrl-C: the server stops, its data stays.
        assert srv.stop() == 0, srv.output
    assert "Label Studio stopped." in srv.output
    assert not pid_alive(info["pid"])
    assert (data_dir / "label_studio.sqlite3").is_file()
