"""Tests of facelandmarks.human on the real J&dC and LFPW files (skipped without the data)."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from facelandmarks import human
from facelandmarks.schemes import IBUG68


# --- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def table(data_root: Path) -> human.ClickTable:
    return human.load_jdc(data_root)


@pytest.fixture(scope="module")
def refs(table: human.ClickTable) -> dict[str, np.ndarray]:
    return human.jdc_references(table)


@pytest.fixture(scope="module")
def errors(table: human.ClickTable, refs: dict) -> human.AnnotationErrors:
    return human.annotation_errors(table, human.JDC_IBUG_POINTS, refs)


@pytest.fixture(scope="module")
def lfpw(data_root: Path) -> human.LfpwAnnotations:
    return human.load_lfpw(root=data_root)


def _worker_file(data_root: Path) -> Path:
    return sorted((data_root / human.JDC_FOLDER / "landmarks" / "workers").glob("*.json"))[0]


def _expert_file(data_root: Path) -> Path:
    return data_root / human.JDC_FOLDER / "landmarks" / "expert" / "1.json"


# --- J&dC: counts and structure ----------------------------------------------------------------

def test_file_counts(data_root: Path) -> None:
    base = data_root / human.JDC_FOLDER / "landmarks"
    assert len(list((base / "workers").glob("*.json"))) == 100
    assert len(list((base / "expert").glob("*.json"))) == 12


def test_table_counts(table: human.ClickTable) -> None:
    assert len(table) == (100 + 12) * 4 * 4 * 22
    assert sorted(set(table.image.tolist())) == sorted(human.JDC_IMAGES)
    assert len(set(table.select(group="crowd").annotator.tolist())) == 100
    assert len(set(table.select(group="expert").annotator.tolist())) == 12
    for image in human.JDC_IMAGES:
        for group, n in (("crowd", 400), ("expert", 48)):
            sub = table.select(image=image, group=group)
            keys = sub.annotation_keys()
            assert len(keys) == n, (image, group)
            assert sorted({k[3] for k in keys}) == [0, 1, 2, 3]
            assert len(sub) == 22 * n  # 22 points in every annotation
    assert set(table.point_id.tolist()) == set(human.JDC_POINT_IDS)


def test_point_ids_are_ibug_numbers() -> None:
    assert len(human.JDC_POINT_IDS) == 22 and len(human.JDC_IBUG_POINTS) == 19
    assert set(human.JDC_POINT_IDS) - set(human.JDC_IBUG_POINTS) == {"P70", "P71", "P72"}
    assert set(human.JDC_POINT_NAMES) == set(human.JDC_POINT_IDS) == set(human.JDC_POINT_SHORT)


def test_references_are_consistent(refs: dict) -> None:
    # every file agrees on each image's references (jdc_references raises otherwise); the pupils
    # are the subject's right (image left) P71 and left P72, so P71 lies left of P72 and near P37-P40
    for image, ref in refs.items():
        assert ref.shape == (22, 2)
        ids = list(human.JDC_POINT_IDS)
        assert ref[ids.index("P71"), 0] < ref[ids.index("P72"), 0]
        assert ref[ids.index("P37"), 0] < ref[ids.index("P71"), 0] < ref[ids.index("P40"), 0]
        assert 50 < human.jdc_normaliser(ref) < 400


def test_clicks_within_tool_limit(table: human.ClickTable) -> None:
    # the tool refused clicks beyond distLim: in accepted annotations every click is within it
    ok = table.where(table.valid)
    dist = np.linalg.norm(ok.click - ok.reference, axis=1)
    assert np.all(dist <= ok.dist_limit + 1e-9)


# --- the metric, by hand -----------------------------------------------------------------------

def test_metric_by_hand_on_a_real_annotation(data_root: Path, errors: human.AnnotationErrors) -> None:
    # First crowd file, its first sample (indoor_052.png, first pass): P32 reference (214.8, 278.9),
    # click (224, 275): |(9.2, -3.9)| = sqrt(84.64 + 15.21) = sqrt(99.85) = 9.99250 px.
    # Pupils P71 (178, 163) and P72 (347, 138): |(169, -25)| = sqrt(28561 + 625) = sqrt(29186) = 170.8391 px.
    # Point error 9.99250 / 170.8391 = 0.058491.
    doc = json.loads(_worker_file(data_root).read_text())
    results = json.loads([a["FreeText"] for a in doc["Answers"] if a["QuestionIdentifier"] == "results"][0])
    first = results["samples"][0]
    assert first["filename"].endswith("indoor_052.png")
    p32 = [lm for lm in first["landmarks"] if lm["id"] == "P32"][0]
    assert (p32["x"], p32["y"], p32["user_x"], p32["user_y"]) == (214.8, 278.9, 224, 275)
    m = (errors.annotator == doc["WorkerId"]) & (errors.image == "indoor_052.png") & (errors.repeat == 0)
    assert m.sum() == 1
    k = errors.point_ids.index("P32")
    assert errors.point_errors[m][0, k] == pytest.approx(0.058491, abs=1e-6)
    assert errors.pixel_errors[m][0, k] == pytest.approx(math.sqrt(99.85), abs=1e-9)
    # the annotation's NME is the mean of its 19 point errors
    assert errors.nme[m][0] == pytest.approx(errors.point_errors[m][0].mean())


def test_metric_on_a_synthetic_table() -> None:
    # pupils 100 px apart; every click 3 px right and 4 px down -> 5 px -> 0.05 of the inter-pupil distance
    ref = np.zeros((22, 2))
    ref[:, 0] = np.arange(22) * 10.0
    ids = list(human.JDC_POINT_IDS)
    ref[ids.index("P71")] = (0.0, 0.0)
    ref[ids.index("P72")] = (100.0, 0.0)
    rows = [{"annotator": "a", "group": "crowd", "image": "x.png", "repeat": 0, "point_id": p, "reference": ref[k],
             "click": ref[k] + (3.0, 4.0), "valid": True, "dist_limit": 20.0, "source": "t"} for k, p in enumerate(ids)]
    errs = human.annotation_errors(human.ClickTable.from_rows(rows))
    assert errs.nme == pytest.approx([0.05])
    assert errs.norm == "inter_pupil"


def test_human_errors_are_plausible(errors: human.AnnotationErrors) -> None:
    assert len(errors.of("crowd")) == 1600 and len(errors.of("expert")) == 192
    crowd, expert = np.median(errors.of("crowd").nme), np.median(errors.of("expert").nme)
    assert 0.02 < expert < crowd < 0.15  # experts are closer to the reference than the crowd


def test_repeatability(errors: human.AnnotationErrors, refs: dict) -> None:
    rep = human.repeatability(errors, refs)
    assert rep.n_repeats == 4
    assert len(rep.mean_spread) == (100 + 12) * 4
    assert np.median(rep.mean_spread[rep.group == "expert"]) < np.median(rep.mean_spread[rep.group == "crowd"])
    # identical repeats have zero spread
    same = human.AnnotationErrors(np.array(["a"] * 4), np.array(["crowd"] * 4), np.array(["indoor_006.png"] * 4),
                                  np.arange(4), ("P9",), np.ones((4, 1, 2)), np.zeros((4, 1)), np.zeros((4, 1)), np.zeros(4))
    assert human.repeatability(same, refs).mean_spread == pytest.approx([0.0])


def test_repeatability_by_pass_is_drawn_from_zero(errors: human.AnnotationErrors, refs: dict) -> None:
    """A cut y-axis would make the small changes from one pass to the next look large."""
    fig = human.plot_repeatability(human.repeatability(errors, refs), errors)
    by_pass = fig.axes[1]
    assert by_pass.get_ylim()[0] == 0
    assert by_pass.get_ylim()[1] > max(line.get_ydata().max() for line in by_pass.lines)


def test_percentile_of() -> None:
    sample = np.array([1.0, 2.0, 3.0, 4.0])
    assert human.percentile_of(0.5, sample) == 0.0
    assert human.percentile_of(5.0, sample) == 100.0
    assert human.percentile_of(2.0, sample) == 37.5
    with pytest.raises(ValueError):
        human.percentile_of(1.0, np.array([]))


# --- the model, through a fake cascade ---------------------------------------------------------

class _FakeCascade:
    """Predicts the reference points shifted by (3, 4) px, whatever the box."""

    n_points = 68

    def __init__(self, refs: dict, images: list[str]) -> None:
        self.shapes = []
        for im in images:
            shape = np.zeros((68, 2))
            for k, p in enumerate(human.JDC_POINT_IDS):
                n = int(p[1:])
                if n <= 68:
                    shape[n - 1] = refs[im][k] + (3.0, 4.0)
            self.shapes.append(shape)
        self.per_image = None

    def predict_batch(self, images: list, boxes: np.ndarray):  # noqa: ANN201
        per = len(images) // len(self.shapes)
        pts = np.repeat(np.stack(self.shapes), per, axis=0)
        return type("R", (), {"points": pts})()


def test_model_errors_plumbing(table: human.ClickTable, refs: dict, data_root: Path) -> None:
    images = list(human.JDC_IMAGES)
    boxes = {im: np.array([10.0, 10.0, 300.0, 300.0]) for im in images}
    m = human.model_errors(_FakeCascade(refs, images), table, data_root, n_jitter=6, boxes=boxes)
    assert m.nme.shape == (4, 6) and m.point_errors.shape == (4, 6, 19) and m.jittered.shape == (4, 6, 4)
    expected = np.array([5.0 / human.jdc_normaliser(refs[im]) for im in images])
    np.testing.assert_allclose(m.nme, np.repeat(expected[:, None], 6, axis=1))
    np.testing.assert_allclose(m.nme_detector, expected)
    assert m.box_source == ["given"] * 4
    assert not m.beyond_limit.any()  # 5 px is inside every limit (>= 20 px)
    text = human.verdict(human.annotation_errors(table, human.JDC_IBUG_POINTS, refs), m)
    assert "crowd" in text and "expert" in text and "inter-pupil" in text


# --- malformed J&dC files ----------------------------------------------------------------------

def _write(tmp_path: Path, name: str, doc: object) -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def test_bad_json(tmp_path: Path) -> None:
    path = _write(tmp_path, "broken.json", '{"Answers": [')
    with pytest.raises(human.JdcFormatError, match="broken.json.*not valid JSON"):
        human.read_jdc_file(path, "crowd")


def test_missing_keys(tmp_path: Path, data_root: Path) -> None:
    with pytest.raises(human.JdcFormatError, match="noanswers.json.*'Answers'"):
        human.read_jdc_file(_write(tmp_path, "noanswers.json", {"WorkerId": "x"}), "crowd")
    with pytest.raises(human.JdcFormatError, match="noresult.json.*'results'"):
        human.read_jdc_file(_write(tmp_path, "noresult.json", {"Answers": [{"QuestionIdentifier": "activity_log",
                                                                            "FreeText": "{}"}]}), "crowd")
    with pytest.raises(human.JdcFormatError, match="badtext.json.*FreeText is not valid JSON"):
        human.read_jdc_file(_write(tmp_path, "badtext.json", {"Answers": [{"QuestionIdentifier": "results",
                                                                           "FreeText": "{oops"}]}), "crowd")
    with pytest.raises(human.JdcFormatError, match="expert_noresults.json.*'results'"):
        human.read_jdc_file(_write(tmp_path, "expert_noresults.json", {"activityLog": {}}), "expert")
    doc = json.loads(_expert_file(data_root).read_text())
    del doc["results"]["samples"][3]["landmarks"][5]["user_x"]
    with pytest.raises(human.JdcFormatError, match="nouserx.json.*sample 3.*'user_x'"):
        human.read_jdc_file(_write(tmp_path, "nouserx.json", doc), "expert")


def test_wrong_point_ids(tmp_path: Path, data_root: Path) -> None:
    doc = json.loads(_expert_file(data_root).read_text())
    doc["results"]["samples"][0]["landmarks"][0]["id"] = "P99"
    with pytest.raises(human.JdcFormatError, match="wrongid.json.*'P99'"):
        human.read_jdc_file(_write(tmp_path, "wrongid.json", doc), "expert")
    doc = json.loads(_expert_file(data_root).read_text())
    doc["results"]["samples"][1]["landmarks"].pop()
    with pytest.raises(human.JdcFormatError, match="missingpoint.json.*sample 1.*22 points"):
        human.read_jdc_file(_write(tmp_path, "missingpoint.json", doc), "expert")
    doc = json.loads(_expert_file(data_root).read_text())
    doc["results"]["samples"][0]["landmarks"][2]["x"] = "left"
    with pytest.raises(human.JdcFormatError, match="notanumber.json.*not a number"):
        human.read_jdc_file(_write(tmp_path, "notanumber.json", doc), "expert")


def test_real_files_round_trip_through_copies(tmp_path: Path, data_root: Path) -> None:
    # a copy of one file reads the same as the original (the reader depends only on content)
    src = _worker_file(data_root)
    dst = tmp_path / src.name
    shutil.copy(src, dst)
    a, b = human.read_jdc_file(src, "crowd"), human.read_jdc_file(dst, "crowd")
    np.testing.assert_array_equal(a.click, b.click)
    assert len(a) == 16 * 22


# --- LFPW --------------------------------------------------------------------------------------

def test_lfpw_counts_and_spread(lfpw: human.LfpwAnnotations) -> None:
    assert len(lfpw) == 300
    assert lfpw.points.shape == (300, 3, 35, 2)
    assert int(lfpw.complete.sum()) == 299  # one face lacks worker_0
    spread = human.lfpw_spread(lfpw)
    assert spread.errors.shape == (299, 3) and len(spread.points) == 17 and spread.n_incomplete == 1
    assert 0.02 < np.median(spread.flat) < 0.04  # near 0.03 of the outer-eye-corner distance


def test_lfpw_left_is_image_left(lfpw: human.LfpwAnnotations) -> None:
    lo, ro = human.LFPW_POINTS.index("left_eye_out"), human.LFPW_POINTS.index("right_eye_out")
    ok = lfpw.complete
    assert np.all(lfpw.points[ok][:, :, lo, 0] < lfpw.points[ok][:, :, ro, 0])


def test_lfpw_to_ibug_correspondence_is_consistent() -> None:
    mapping = human.LFPW_TO_IBUG68
    assert len(mapping) == 17 and set(mapping) <= set(human.LFPW_POINTS)
    assert len(set(mapping.values())) == 17 and all(1 <= v <= 68 for v in mapping.values())
    # left/right twins map onto iBUG mirror pairs
    for name, n in mapping.items():
        if name.startswith("left_"):
            twin = "right_" + name[len("left_"):]
            assert IBUG68.flip_permutation[n - 1] == mapping[twin] - 1, name
    assert list(human.LFPW_IBUG_INDICES) == [mapping[n] - 1 for n in human.LFPW_POINTS if n in mapping]


def _lfpw_lines(data_root: Path) -> list[str]:
    return (data_root / human.LFPW_FILE).read_text().splitlines()[:9]


def test_lfpw_malformed(tmp_path: Path, data_root: Path) -> None:
    lines = _lfpw_lines(data_root)
    bad = tmp_path / "short_row.csv"
    bad.write_text("\n".join(lines[:3] + [lines[3].rsplit("\t", 1)[0]] + lines[4:]) + "\n")
    with pytest.raises(human.LfpwFormatError, match=r"short_row.csv: line 4: 106 columns, expected 107"):
        human.load_lfpw(bad)
    header = tmp_path / "header.csv"
    header.write_text("\n".join([lines[0].replace("chin_x", "jaw_x")] + lines[1:]) + "\n")
    with pytest.raises(human.LfpwFormatError, match="header.csv: line 1"):
        human.load_lfpw(header)
    nan = tmp_path / "text.csv"
    cells = lines[2].split("\t")
    cells[5] = "abc"
    nan.write_text("\n".join(lines[:2] + ["\t".join(cells)] + lines[3:]) + "\n")
    with pytest.raises(human.LfpwFormatError, match="text.csv: line 3: .*not a number"):
        human.load_lfpw(nan)
    dup = tmp_path / "dup.csv"
    dup.write_text("\n".join(lines[:3] + [lines[2]]) + "\n")
    with pytest.raises(human.LfpwFormatError, match="dup.csv: line 4: second 'worker_0'"):
        human.load_lfpw(dup)
    good = tmp_path / "good.csv"
    good.write_text("\n".join(lines) + "\n")
    assert len(human.load_lfpw(good)) == 2


# --- the learner's session (no browser) ----------------------------------------------------------

def _session(refs: dict, offset: tuple[float, float] = (0.0, 0.0), n_images: int = 4, name: str = "ada"
             ) -> human.AnnotationSession:
    s = human.AnnotationSession(name)
    for im in s.images[:n_images]:
        for k, _ in enumerate(s.point_ids):
            s.click(*(refs[im][k] + offset))
    return s


def test_session_state_and_undo() -> None:
    s = human.AnnotationSession("ada")
    assert s.n_total == 4 * 22 and s.n_done == 0 and not s.done
    assert s.current == ("indoor_006.png", "P2") and s.current_point_name.startswith("jaw")
    assert not s.undo()
    assert s.click(10, 20) == ("indoor_006.png", "P7")
    assert s.click(11.5, 21) == ("indoor_006.png", "P9")
    np.testing.assert_array_equal(s.clicks_for("indoor_006.png")[:2], [[10, 20], [11.5, 21]])
    assert s.undo() and s.current == ("indoor_006.png", "P7")
    assert np.isnan(s.clicks_for("indoor_006.png")[1]).all()
    with pytest.raises(ValueError):
        s.click(float("nan"), 1.0)
    with pytest.raises(ValueError):
        s.click("left", 1.0)
    for _ in range(s.n_total - s.n_done):
        s.click(1.0, 1.0)
    assert s.done and s.current is None and s.current_image is None
    with pytest.raises(RuntimeError):
        s.click(1.0, 1.0)
    assert s.undo() and s.current == ("i001qa-mn.jpg", "P72")
    with pytest.raises(ValueError):
        human.AnnotationSession("ada", point_ids=("P2", "P99"))


def test_session_scoring(refs: dict, errors: human.AnnotationErrors) -> None:
    perfect = _session(refs).score(errors, references=refs)
    assert [r["image"] for r in perfect.rows] == list(human.JDC_IMAGES)
    for r in perfect.rows:
        assert r["learner"] == 0.0 and r["crowd_percentile"] == 0.0 and r["expert_percentile"] == 0.0
        assert math.isnan(r["model_median"])
    off = _session(refs, (3.0, 4.0), n_images=1).score(errors, references=refs)
    assert len(off.rows) == 1  # only completed images are scored
    assert off.rows[0]["learner"] == pytest.approx(5.0 / human.jdc_normaliser(refs["indoor_006.png"]))
    assert off.rows[0]["crowd_median"] == pytest.approx(np.median(errors.of("crowd", "indoor_006.png").nme))
    assert "you" in off.text()
    assert "No image is complete" in human.AnnotationSession("x").score(errors, references=refs).text()


def test_session_save_load_round_trip(tmp_path: Path, refs: dict) -> None:
    s = _session(refs, (1.25, -2.5), n_images=2)
    s.click(5.0, 6.0)  # one click into the third image
    path = s.save(tmp_path / "sub" / "ada.json")
    assert not list(path.parent.glob("*.tmp"))
    t = human.AnnotationSession.load(path)
    assert (t.annotator, t.images, t.point_ids, t.n_done, t.current) == (s.annotator, s.images, s.point_ids, s.n_done, s.current)
    np.testing.assert_array_equal(np.nan_to_num(t.clicks, nan=-1), np.nan_to_num(s.clicks, nan=-1))
    # malformed session files
    (tmp_path / "x.json").write_text("not json")
    with pytest.raises(human.SessionFormatError, match="x.json"):
        human.AnnotationSession.load(tmp_path / "x.json")
    doc = json.loads(path.read_text())
    doc["format"] = "something/else"
    (tmp_path / "fmt.json").write_text(json.dumps(doc))
    with pytest.raises(human.SessionFormatError, match="fmt.json"):
        human.AnnotationSession.load(tmp_path / "fmt.json")
    doc = json.loads(path.read_text())
    doc["clicks"]["indoor_006.png"][3] = None  # a gap before later clicks
    (tmp_path / "gap.json").write_text(json.dumps(doc))
    with pytest.raises(human.SessionFormatError, match="gap.json.*prefix"):
        human.AnnotationSession.load(tmp_path / "gap.json")


def test_pool_sessions(tmp_path: Path, refs: dict, table: human.ClickTable) -> None:
    a = _session(refs, (2.0, 0.0)).save(tmp_path / "a.json")
    b = _session(refs, (0.0, 6.0), n_images=2).save(tmp_path / "b.json")  # same name "ada", 2 images done
    pooled = human.pool_sessions([a, b], references=refs)
    assert set(pooled.group.tolist()) == {"learner"}
    assert len(set(pooled.annotator.tolist())) == 2  # same learner name told apart by file
    assert len(pooled.annotation_keys()) == 4 + 2
    errs = human.annotation_errors(human.ClickTable.concat([table, pooled]), human.JDC_IBUG_POINTS, refs)
    assert errs.groups == ["crowd", "expert", "learner"]
    first = errs.of("learner", "indoor_006.png").nme
    np.testing.assert_allclose(sorted(first), sorted([2.0 / human.jdc_normaliser(refs["indoor_006.png"]),
                                                      6.0 / human.jdc_normaliser(refs["indoor_006.png"])]))
    figs = human.class_study_figures(pooled, table)
    assert len(figs) == 2
    import matplotlib.pyplot as plt

    for fig in figs:
        plt.close(fig)
    with pytest.raises(ValueError):
        human.pool_sessions([], references=refs)


def test_a_class_collects_sessions_without_collisions_or_duplicates(tmp_path: Path, refs: dict, monkeypatch) -> None:
    """Issue 18: every file used to default to the same name and annotator, so a class's files
    collided, and a copied file counted as another learner."""
    ada, bob = _session(refs, (2.0, 0.0), name="ada"), _session(refs, (0.0, 6.0), name="bob")
    twin = _session(refs, (2.0, 0.0), name="learner")  # the default annotator, twice
    other = _session(refs, (1.0, 1.0), name="learner")
    # unique default names: annotator, start time, session id
    monkeypatch.chdir(tmp_path)
    files = [s.save() for s in (ada, bob, twin, other)]
    assert len({f.name for f in files}) == 4 and files[0].name.startswith("ada_") and files[0].parent == Path(".")
    assert ada.session_id[:8] in files[0].name and ada.session_id != bob.session_id
    assert human.AnnotationSession.load(files[0]).session_id == ada.session_id
    assert ada.save(tmp_path) == tmp_path / ada.default_filename()  # a folder: the default name in it
    # a shared file name: another annotator's session is not overwritten; the same annotator's is
    shared = bob.save(tmp_path / "my_annotations.json")
    with pytest.raises(FileExistsError, match=r"another session \(annotator 'bob'.*not this one \('ada'"):
        ada.save(shared)
    assert bob.save(shared) == shared  # the same session again: its file is updated
    bob_again = _session(refs, name="bob")  # the same name, another session: not overwritten either
    with pytest.raises(FileExistsError, match=rf"id {bob.session_id}\), not this one \('bob', id {bob_again.session_id}"):
        bob_again.save(shared)
    # pooling: two sessions of the default name are two learners; a copy of a file is refused
    pooled = human.pool_sessions(files, references=refs)
    assert len(set(pooled.annotator.tolist())) == 4 and len(pooled.annotation_keys()) == 4 * 4
    copy = tmp_path / "copy.json"
    copy.write_text(files[1].read_text())
    with pytest.raises(ValueError, match=r"bob_.*\.json and .*copy.json are the same session"):
        human.pool_sessions(files + [copy], references=refs)
    # a file saved before session ids existed: identical clicks give the copy away
    doc = json.loads(files[1].read_text())
    del doc["session_id"]
    copy.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="identical clicks"):
        human.pool_sessions(files + [copy], references=refs)
    assert len(human.pool_sessions([files[0], copy], references=refs).annotation_keys()) == 8
    assert human.AnnotationSession.load(copy).default_filename().endswith("_no-id.json")


def test_the_instructors_pooling_snippet_runs(tmp_path: Path, refs: dict, monkeypatch) -> None:
    """labs/INSTRUCTOR.md's pooling code, run as printed on a class's folder: three students (two
    kept the default name "you"), one image each as in the 2-hour lab; then one file handed in twice."""
    guide = (Path(__file__).resolve().parent.parent / "labs" / "INSTRUCTOR.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in guide.split("```python\n")[1:]]
    snippet = next(b for b in blocks if "pool_sessions" in b)
    folder = tmp_path / "sessions"
    folder.mkdir()
    for name, offset in (("ada", (1.0, 0.0)), ("you", (0.0, 2.0)), ("you", (3.0, 1.0))):
        s = human.AnnotationSession(name, images=human.JDC_IMAGES[:1])
        for k, _ in enumerate(s.point_ids):
            s.click(*(refs[s.images[0]][k] + offset))
        s.save(folder)
    code = snippet.replace("/course/sessions", str(folder))
    assert code != snippet, "the guide's snippet no longer reads /course/sessions"
    scope: dict = {}
    exec(compile(code, "INSTRUCTOR.md", "exec"), scope)  # noqa: S102 - the guide's own code
    assert len(set(scope["learners"].annotator.tolist())) == 3 and len(scope["learners"].annotation_keys()) == 3
    assert len(scope["figs"]) == 2  # the per-point figure compares on the image the class took
    assert "on indoor_006.png (the images the class annotated)" in scope["figs"][1].axes[0].get_title()
    n = len(human.JDC_IMAGES)
    model = human.ModelErrors(list(human.JDC_IMAGES), human.JDC_IBUG_POINTS, np.zeros((n, 4)), ["detector"] * n,
                              np.zeros((n, 2, 4)), np.zeros((n, 2, 68, 2)), np.zeros((n, 68, 2)),
                              np.arange(n * 2 * 19.0).reshape(n, 2, 19), np.arange(n * 2.0).reshape(n, 2),
                              np.arange(n * 1.0), np.zeros((n, 2, 19), bool))
    from facelandmarks.human.session import _model_on
    one = _model_on(model, ["indoor_052.png", "not-an-image.png"])
    assert one.images == ["indoor_052.png"] and one.nme.tolist() == [[2.0, 3.0]] and one.point_errors.shape == (1, 2, 19)
    import matplotlib.pyplot as plt

    plt.close("all")
    again = folder / "ada (2).json"  # the same file uploaded twice
    again.write_text(next(folder.glob("ada_*.json")).read_text())
    with pytest.raises(ValueError, match="are the same session"):
        exec(compile(code, "INSTRUCTOR.md", "exec"), {})  # noqa: S102


def test_consensus_offset(errors: human.AnnotationErrors, refs: dict) -> None:
    off = human.consensus_offset(errors, refs)
    assert set(off) == {"crowd", "expert"} and off["expert"].shape == (19,)
    k = errors.point_ids.index
    # the experts agree on where an eye corner is (close to the reference) far more than on the
    # middle of a brow or a point along the lower lid, whose definitions are fuzzy
    assert off["expert"][k("P40")] < 0.5 * off["expert"][k("P20")]
    assert off["expert"][k("P40")] < 0.5 * off["expert"][k("P47")]
