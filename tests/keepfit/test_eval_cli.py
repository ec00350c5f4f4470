"""`keepfit eval`, the demo table and the report files, on a tiny exported model and a synthetic dataset."""

from __future__ import annotations

import json

import pytest
import torch
from rich.console import Console
from typer.testing import CliRunner

from keepfit.cli import app
from keepfit.evaluate import evaluate_demo
from keepfit.evaluate.report import save_confusion_matrix, to_jsonable, write_report
from keepfit.hub import save_pretrained
from keepfit.model import KeepFIT, ModelConfig
from keepfit.train.synthetic import write_mm_dataset


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    dataset = write_mm_dataset(root / "ds", n_train=4, n_test=72, seed=3, size=48)
    torch.manual_seed(0)
    model = KeepFIT.from_config(ModelConfig(vision="tiny-cnn", text_model="tiny-bert", embed_dim=16, image_size=48))
    export = save_pretrained(model, root / "export")
    return root, dataset, export


def test_eval_command_writes_reports_and_prints_a_table(setup):
    root, dataset, export = setup
    out = root / "reports"
    result = CliRunner().invoke(app, [
        "eval", "--checkpoint", str(export), "--data", str(dataset), "-t", "zero-shot", "-t", "linear-probe",
        "-t", "retrieval", "--folds", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("zero-shot.json", "zero-shot_confusion.png", "linear-probe.json", "linear-probe_confusion.png",
                 "retrieval.json"):
        assert (out / name).is_file(), name
    zs = json.loads((out / "zero-shot.json").read_text())
    assert zs["class_names"] == ["CFP", "FFA", "OCT", "other"] and zs["seed"] == 42
    assert zs["template"] == "{}" and "OCT" in zs["prompts"]
    lp = json.loads((out / "linear-probe.json").read_text())
    assert len(lp["runs"]) == 2 and lp["config"]["folds"] == 2
    rt = json.loads((out / "retrieval.json").read_text())
    assert rt["n"] == 72 and 0 <= rt["i2t_R@1"] <= 1
    assert "R@1" in result.output and "linear-probe" in result.output

    # the reports feed the model card of an export
    card_dir = root / "card"
    result = CliRunner().invoke(app, ["export", str(export), "--out", str(card_dir), "--eval-report",
                                      str(out / "linear-probe.json"), "--eval-report", str(out / "retrieval.json")])
    assert result.exit_code == 0, result.output
    card = (card_dir / "README.md").read_text()
    assert "## Evaluation" in card and "| linear-probe (ds[test]) | aca |" in card
    assert card.index("| R@5 |") < card.index("| R@10 |")
    assert "| text tower (source) | tiny-bert |" in card  # not the path of the loaded export


def test_eval_few_shot_command(setup):
    root, dataset, export = setup
    result = CliRunner().invoke(app, [
        "eval", "-m", str(export), "-d", str(dataset), "-t", "few-shot", "--shots", "1,2", "--seeds", "0,1",
        "--methods", "tip-adapter", "--protocol", "paper", "--out", str(root / "fs")])
    assert result.exit_code == 0, result.output
    fs = json.loads((root / "fs" / "few-shot.json").read_text())
    assert [(r["method"], r["shots"], r["seed"]) for r in fs["runs"]] == [
        ("tip-adapter", 1, 0), ("tip-adapter", 1, 1), ("tip-adapter", 2, 0), ("tip-adapter", 2, 1)]
    assert fs["protocol"] == "paper" and all(r["chosen"]["how"] == "fixed" for r in fs["runs"])
    present = sum(1 for n in fs["data"]["class_counts"].values() if n)
    for r in fs["runs"]:  # N shots = N labelled images per class, nothing else
        assert len(r["indices"]["train"]) == r["shots"] * present
    assert [(s["shots"], s["aca"]["n"]) for s in fs["summary"]] == [(1, 2), (2, 2)]
    assert "tip-adapter 2-shot" in result.output


def test_eval_paper_linear_probe_uses_backbone_features(setup):
    root, dataset, export = setup
    result = CliRunner().invoke(app, [
        "eval", "-m", str(export), "-d", str(dataset), "-t", "linear-probe", "--protocol", "paper",
        "--reshuffles", "3", "--out", str(root / "lp")])
    assert result.exit_code == 0, result.output
    lp = json.loads((root / "lp" / "linear-probe.json").read_text())
    assert lp["protocol"] == "paper" and lp["features"] == "backbone"
    assert lp["feature_dim"] == 64  # the tiny CNN's pooled width, not the 16-d embedding
    assert len(lp["runs"]) == 3 and {r["C"] for r in lp["runs"]} == {0.316}


@pytest.mark.parametrize(("args", "message"), [
    (["-t", "zero-shoot"], "unknown ['zero-shoot']"),
    (["-t", "few-shot", "--methods", "tip"], "--methods"),
    (["-t", "few-shot", "--shots", "a,b"], "--shots"),
    (["-t", "linear-probe", "--protocol", "folds"], "--protocol"),
])
def test_bad_options_are_errors(setup, args, message):
    _, dataset, export = setup
    result = CliRunner().invoke(app, ["eval", "-m", str(export), "-d", str(dataset), *args])
    assert result.exit_code == 2
    assert message in result.output


def test_misspelled_flag_is_an_error(setup):
    _, dataset, export = setup
    result = CliRunner().invoke(app, ["eval", "-m", str(export), "-d", str(dataset), "-t", "zero-shot",
                                      "--val-fration", "0.2"])
    assert result.exit_code != 0 and "No such option" in result.output


def test_classes_file_must_cover_the_dataset_classes(setup, tmp_path):
    _, dataset, export = setup
    f = tmp_path / "classes.yaml"
    f.write_text("CFP: a colour fundus photograph\n")
    result = CliRunner().invoke(app, ["eval", "-m", str(export), "-d", str(dataset), "-t", "zero-shot",
                                      "--classes", str(f)])
    assert result.exit_code == 2 and "FFA" in result.output


def test_evaluate_demo_table(setup):
    root, dataset, export = setup
    out = evaluate_demo(export, dataset, out_dir=root / "demo")
    tasks = [r["task"] for r in out["rows"]]
    assert tasks[0] == "zero-shot modality" and any(t.startswith("linear probe") for t in tasks)
    assert "retrieval image→text" in tasks and "retrieval text→image" in tasks
    assert out["skipped"] == {}
    console = Console(record=True, width=100)
    console.print(out["table"])
    text = console.export_text()
    assert "R@10" in text and "aca" in text
    saved = json.loads((root / "demo" / "demo_eval.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(to_jsonable(out["rows"])))


def test_report_files(tmp_path):
    png = save_confusion_matrix([[3, 1], [0, 4]], ["neg", "pos"], tmp_path / "cm.png", "test")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    files = write_report({"task": "zero-shot", "auc": float("nan"), "confusion_matrix": [[1, 0], [0, 1]],
                          "class_names": ["a", "b"]}, tmp_path, "zs")
    assert json.loads(files["json"].read_text())["auc"] is None
    assert files["confusion"].is_file()
