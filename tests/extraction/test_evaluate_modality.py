"""The modality confusion matrix of eval-extraction."""

from mmretinal_builder.evaluation.extraction import _gt_modality, modality_report


def test_confusion_matrix_and_accuracy():
    rep = modality_report([("CFP", "CFP"), ("CFP", "FFA"), ("OCT", "OCT"), ("other", "CFP")])
    assert rep["n"] == 4 and rep["accuracy"] == 0.5
    assert rep["confusion"]["CFP"] == {"CFP": 1, "FFA": 1, "OCT": 0, "other": 0}
    assert rep["confusion"]["other"]["CFP"] == 1
    assert modality_report([])["accuracy"] is None


def test_ground_truth_modality_names():
    assert _gt_modality({"modality": "CFP (pathologic myopia lesions)"}) == "CFP"
    assert _gt_modality({"modality": "mixed (CFP, FFA)"}) is None
    assert _gt_modality({}) is None
