"""The whole human comparison as one run: compute (:func:`run_study`), print (:func:`report`), draw
(:func:`save_figures`); :func:`main` is ``facelandmarks human`` and ``benchmarks/human_study.py``."""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from .. import metrics
from .analysis import (ModelErrors, annotation_errors, consensus_offset, lfpw_spread, model_errors, model_lfpw_errors,
                       percentile_of, point_summary, verdict)
from .figures import (plot_error_distributions, plot_lfpw_ced, plot_lfpw_pairing, plot_lfpw_test_ced, plot_lfpw_test_points,
                      plot_point_errors, plot_reference_check, plot_repeatability)
from .formats import (JDC_IBUG_POINTS, JDC_JAW_POINTS, JDC_POINT_IDS, JDC_POINT_NAMES, LFPW_POINTS, jdc_normaliser,
                      jdc_references, load_jdc, load_lfpw, point_number)
from .lfpw_test import (LFPW_CANDIDATES, LFPW_OFFSET, NORMALISERS, PAIR_MAX_RESIDUAL, PAIR_MIN_MARGIN, SOURCES, candidate_offsets,
                        compare, corner_offset, lfpw_verdict, pair_lfpw_test)
from .repeatability import model_repeatability, repeatability

if TYPE_CHECKING:  # pragma: no cover
    from ..models.cascade import Cascade

__all__ = ["run_study", "report", "report_lfpw_test", "FIGURES", "PER_FACE_CSV", "save_figures", "DOC_BEGIN", "DOC_END",
           "write_into_doc", "main"]


def _fmt(stats: Mapping[str, float]) -> str:
    return f"mean {stats['mean']:.4f}, median {stats['median']:.4f}"


def _stats(x: np.ndarray) -> dict[str, float]:
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    return {"n": int(x.size), "mean": float(x.mean()), "median": float(np.median(x))}


def run_study(root: str | os.PathLike | None = None, cascade: "Cascade | None" = None, n_jitter: int = 50,
              helen_limit: int | None = None, boxes: str = "detector", seed: int = 0,
              progress: bool = False) -> dict:
    """Compute everything the human comparison reports; returns a dict of results (no printing).

    Keys: ``table``, ``errors``, ``errors_all``, ``references``, ``model``, ``repeatability``,
    ``model_spread``, ``points``, ``consensus_offset``, ``lfpw``, ``lfpw_spread``, ``helen``, ``helen_lfpw_nme``,
    ``lfpw_test`` (:class:`~facelandmarks.human.lfpw_test.LfpwTestSet`), ``lfpw_test_eval`` (the model on those
    faces), ``lfpw_test_comparison``, ``numbers`` (a nested dict of plain numbers, the ones :func:`main` prints),
    ``verdict`` (text), ``lfpw_test_verdict`` (normaliser -> :class:`~facelandmarks.human.lfpw_test.LfpwVerdict`).
    """
    from .. import evaluation
    from ..datasets import load_split

    if cascade is None:
        from ..models.pretrained import load_pretrained

        cascade = load_pretrained(fuse=True)
    table = load_jdc(root)
    refs = jdc_references(table)
    errors = annotation_errors(table, JDC_IBUG_POINTS, refs)
    errors_all = annotation_errors(table, JDC_POINT_IDS, refs)
    model = model_errors(cascade, table, root, n_jitter=n_jitter, seed=seed)
    rep = repeatability(errors, refs)
    model_spread = model_repeatability(model, refs, n=rep.n_repeats) if n_jitter >= rep.n_repeats else None
    lfpw = load_lfpw(root=root)
    spread = lfpw_spread(lfpw)
    helen = load_split("helen", root, limit=helen_limit, progress=progress)
    ev = evaluation.evaluate(cascade, helen, boxes=boxes, seed=seed)
    helen_nme = model_lfpw_errors(ev)

    n: dict = {"jdc": {}, "lfpw": {}, "helen": {}}
    no_jaw = [k for k, p in enumerate(errors.point_ids) if p not in JDC_JAW_POINTS]
    for g in errors.groups:
        n["jdc"][g] = _stats(errors.of(g).nme)
        n["jdc"][f"{g}_per_image_median"] = {im: float(np.median(errors.of(g, im).nme)) for im in model.images}
        n["jdc"][f"{g}_all22"] = _stats(errors_all.of(g).nme)
        n["jdc"][f"{g}_no_jaw"] = _stats(errors.of(g).point_errors[:, no_jaw].mean(axis=1))
        n["jdc"][f"{g}_repeat_spread"] = _stats(rep.mean_spread[rep.group == g])
        n["jdc"][f"{g}_median_by_pass"] = [float(np.median(errors.of(g).nme[errors.of(g).repeat == r])) for r in range(4)]
    n["jdc"]["model_jitter"] = _stats(model.nme)
    n["jdc"]["model_no_jaw"] = _stats(model.point_errors[:, :, [k for k, p in enumerate(model.point_ids) if p not in JDC_JAW_POINTS]].mean(axis=2))
    n["jdc"]["model_jitter_per_image_median"] = dict(zip(model.images, map(float, model.median_nme())))
    n["jdc"]["model_jitter_per_image_iqr"] = {im: [float(np.percentile(model.nme[i], 25)), float(np.percentile(model.nme[i], 75))]
                                              for i, im in enumerate(model.images)}
    n["jdc"]["model_detector_box"] = dict(zip(model.images, map(float, model.nme_detector)))
    n["jdc"]["model_box_source"] = dict(zip(model.images, model.box_source))
    n["jdc"]["model_beyond_limit"] = float(model.beyond_limit.mean())
    n["jdc"]["percentile_crowd"] = {im: percentile_of(float(np.median(model.nme[i])), errors.of("crowd", im).nme)
                                    for i, im in enumerate(model.images)}
    n["jdc"]["percentile_expert"] = {im: percentile_of(float(np.median(model.nme[i])), errors.of("expert", im).nme)
                                     for i, im in enumerate(model.images)}
    if model_spread is not None:
        n["jdc"]["model_jitter_spread"] = _stats(model_spread)
    n["jdc"]["inter_pupil_px"] = {im: jdc_normaliser(refs[im]) for im in model.images}
    n["jdc"]["invalid_annotations"] = int(len(table.where(~table.valid).annotation_keys()))
    # Sensitivity: references of the two 300-W images 1 px up-left (if they were 1-based .pts values).
    shifted = {im: (r - 1.0 if im.startswith("indoor_") else r) for im, r in refs.items()}
    e_shift = annotation_errors(table, JDC_IBUG_POINTS, shifted)
    pid = [JDC_POINT_IDS.index(p) for p in JDC_IBUG_POINTS]
    ibug = [point_number(p) - 1 for p in JDC_IBUG_POINTS]
    m_shift = np.stack([metrics.point_errors(model.points[i][:, ibug], np.broadcast_to(shifted[im][pid], model.points[i][:, ibug].shape),
                                             norm=None).mean(axis=1) / jdc_normaliser(shifted[im]) for i, im in enumerate(model.images)])
    n["jdc"]["shift_sensitivity"] = {
        **{f"{g}_median": float(np.median(e_shift.of(g).nme)) for g in errors.groups},
        "model_median": float(np.median(m_shift)),
    }
    n["lfpw"] = {"faces": len(lfpw), "complete_faces": len(spread.urls), "incomplete_faces": spread.n_incomplete,
                 "points": len(spread.points), **_stats(spread.flat)}
    n["lfpw"]["corrected_median"] = float(np.median(spread.flat) / math.sqrt(1.5))
    spread29 = lfpw_spread(lfpw, [p for p in LFPW_POINTS if "_ear_" not in p])
    n["lfpw"]["all29_non_ear"] = _stats(spread29.flat)
    n["helen"] = {"faces": len(helen), "boxes": ev.box_source, "fallback_boxes": int(ev.fallback.sum()),
                  "lfpw17": _stats(helen_nme), "all68": _stats(ev.nme)}
    n["helen"]["percentile_among_lfpw_humans"] = percentile_of(float(np.median(helen_nme)), spread.flat)
    ratio = metrics.normalising_distance(helen.points, "inter_pupil") / metrics.normalising_distance(helen.points, "inter_ocular")
    n["helen"]["eye_centre_over_outer_corner_distance"] = float(np.median(ratio))
    # Humans and the model on the same LFPW test faces (300-W reference)
    test = pair_lfpw_test(root, progress=progress)
    ev_test = evaluation.evaluate(cascade, test.faces, boxes=boxes, seed=seed)
    comp = compare(test.pairing, test.annotations, test.faces.points, test.windows, ev_test.points)
    pr = test.pairing
    t: dict = {"faces": len(pr), "paired": int(pr.paired.sum()), "urls": len(test.annotations),
               "rule": {"max_residual": PAIR_MAX_RESIDUAL, "min_margin": PAIR_MIN_MARGIN},
               "residual_paired": {**_stats(pr.residual[pr.paired]), "max": float(pr.residual[pr.paired].max())},
               "residual_px_paired": {**_stats(pr.residual_px[pr.paired]), "max": float(pr.residual_px[pr.paired].max())},
               "refused": {pr.names[f]: pr.status[f] for f in np.flatnonzero(~pr.paired)},
               "pairs": pr.rows(), "corner_offset_original_px": corner_offset(pr, test.annotations, test.faces.points, test.windows).tolist(),
               "lfpw_offset": LFPW_OFFSET, "boxes": ev_test.box_source, "fallback_boxes": int(ev_test.fallback.sum()),
               "missing_worker_rows": int(np.isnan(comp.workers()).sum()), "points": list(comp.points),
               "candidate_offsets": candidate_offsets(pr, test.annotations, test.faces.points, test.windows)}
    test_verdicts = {}
    for norm in NORMALISERS:
        e = comp.nme[norm]
        workers = comp.workers(norm)
        v = lfpw_verdict(e["model"], workers, e["average"], norm, len(comp.points))
        test_verdicts[norm] = v
        t[norm] = {**{s: _stats(e[s][np.isfinite(e[s])]) for s in SOURCES},
                   "workers_pooled": _stats(workers[np.isfinite(workers)]),
                   "median_worker": _stats(comp.median_worker(norm)),
                   "fraction_model_beats_median_worker": v.fraction_beating_median_worker,
                   "fraction_model_beats_average": float(np.mean(e["model"] < e["average"])),
                   "fraction_model_beats_every_worker": float(np.mean(e["model"] < np.nanmin(workers, axis=1))),
                   "fraction_model_worse_than_every_worker": v.fraction_worse_than_every_worker,
                   "failure_rate_0.08": {s: metrics.failure_rate(e[s][np.isfinite(e[s])], 0.08) for s in SOURCES},
                   "level": v.level, "beats_average": v.beats_average,
                   "per_point_median": {p: {"workers": float(np.nanmedian(np.concatenate([comp.point_errors[norm][w][:, k] for w in SOURCES[:3]]))),
                                            "average": float(np.median(comp.point_errors[norm]["average"][:, k])),
                                            "model": float(np.median(comp.point_errors[norm]["model"][:, k]))}
                                        for k, p in enumerate(comp.points)}}
    worst = np.argsort(-comp.nme["inter_ocular"]["model"])[:3]
    t["model_worst_faces"] = [{"name": comp.names[i], "model": float(comp.nme["inter_ocular"]["model"][i]),
                               "median_worker": float(comp.median_worker("inter_ocular")[i])} for i in worst]
    t["per_face"] = [{"name": nm, "url": u, **{f"{norm}_{s}": float(comp.nme[norm][s][i]) for norm in NORMALISERS for s in SOURCES}}
                     for i, (nm, u) in enumerate(zip(comp.names, comp.urls))]
    n["lfpw_test"] = t
    summary, offsets = point_summary(errors, model), consensus_offset(errors, refs)
    n["jdc"]["per_point"] = {
        p: {**{f"{g}_median": float(summary[f"{g}_median"][k]) for g in [*errors.groups, "model"]},
            **{f"{g}_consensus_offset": float(offsets[g][k]) for g in errors.groups}}
        for k, p in enumerate(errors.point_ids)}
    return {"table": table, "errors": errors, "errors_all": errors_all, "references": refs, "model": model,
            "repeatability": rep, "model_spread": model_spread, "points": summary,
            "consensus_offset": offsets, "lfpw": lfpw,
            "lfpw_spread": spread, "helen": ev, "helen_lfpw_nme": helen_nme, "numbers": n,
            "verdict": verdict(errors, model), "lfpw_test": test, "lfpw_test_eval": ev_test,
            "lfpw_test_comparison": comp, "lfpw_test_verdict": test_verdicts}


def report(results: Mapping) -> str:
    """The printed summary of :func:`run_study`'s results (every number names its normaliser)."""
    n = results["numbers"]
    j, lf, he = n["jdc"], n["lfpw"], n["helen"]
    model: ModelErrors = results["model"]
    out = ["== J&dC study: 4 images, NME over the 19 iBUG points, normaliser inter_pupil (reference P71-P72) =="]
    for g in results["errors"].groups:
        out.append(f"{g:>7}: {j[g]['n']} annotations, {_fmt(j[g])}  (15 points without the jaw: {_fmt(j[g + '_no_jaw'])}; "
                   f"all 22 points: {_fmt(j[g + '_all22'])})")
    out.append(f"  model: {model.nme.shape[1]} jittered face boxes x {len(model.images)} images, {_fmt(j['model_jitter'])}  "
               f"(15 points without the jaw: {_fmt(j['model_no_jaw'])})")
    out.append("per image (median NME):  image | crowd | expert | model (jitter median [IQR]) | model (un-jittered box) | box")
    for i, im in enumerate(model.images):
        q = j["model_jitter_per_image_iqr"][im]
        out.append(f"  {im:22s} | {j['crowd_per_image_median'][im]:.4f} | {j['expert_per_image_median'][im]:.4f} | "
                   f"{j['model_jitter_per_image_median'][im]:.4f} [{q[0]:.4f}, {q[1]:.4f}] | "
                   f"{j['model_detector_box'][im]:.4f} | {j['model_box_source'][im]}")
    out.append("model's median error, percentile among annotations of the same image (0 = better than all):")
    for im in model.images:
        out.append(f"  {im:22s} crowd {j['percentile_crowd'][im]:5.1f}%   experts {j['percentile_expert'][im]:5.1f}%")
    out.append(f"repeatability (mean distance of an annotator's 4 clicks to their own mean / inter-pupil): "
               + ", ".join(f"{g} median {j[g + '_repeat_spread']['median']:.4f}" for g in results["errors"].groups)
               + (f", model under box jitter (groups of 4 draws) median {j['model_jitter_spread']['median']:.4f}"
                  if "model_jitter_spread" in j else ""))
    out.append("median NME by pass 1..4: " + "; ".join(
        f"{g} " + " ".join(f"{v:.4f}" for v in j[g + "_median_by_pass"]) for g in results["errors"].groups))
    out.append(f"model points beyond the tool's click limit (a human could not have submitted them): {100 * j['model_beyond_limit']:.1f}%")
    out.append(f"annotations the tool had not accepted (validLandmarks false), kept: {j['invalid_annotations']}")
    out.append("if the 300-W references were 1-based (shift -1 px on indoor_*): medians " + ", ".join(
        f"{k.replace('_median', '')} {v:.4f}" for k, v in j["shift_sensitivity"].items()))
    pts = results["points"]
    off = results["consensus_offset"]
    out.append("per point, median error / inter-pupil: crowd | expert | model;   consensus offset (median click "
               "to reference / inter-pupil): crowd | expert")
    for k, p in enumerate(pts["point_id"]):
        out.append(f"  {p:>4} {JDC_POINT_NAMES[p].split(' (')[0]:42s} {pts['crowd_median'][k]:.4f} | "
                   f"{pts['expert_median'][k]:.4f} | {pts['model_median'][k]:.4f};   "
                   f"{off['crowd'][k]:.4f} | {off['expert'][k]:.4f}")
    out.append("")
    out.append(f"== LFPW human spread: worker vs mean of the other two, {lf['points']} points with an iBUG twin, "
               f"normaliser inter_ocular (outer eye corners) ==")
    out.append(f"  {lf['complete_faces']} of {lf['faces']} faces have all three workers ({lf['incomplete_faces']} left out); "
               f"{lf['n']} worker errors: {_fmt(lf)}; all 29 non-ear points: {_fmt(lf['all29_non_ear'])}")
    out.append(f"  one worker vs the truth, if errors are independent (median / sqrt(1.5)): {lf['corrected_median']:.4f}")
    out.append(f"== model on HELEN test ({he['faces']} faces, boxes {he['boxes']}, {he['fallback_boxes']} fallback), "
               f"normaliser inter_ocular ==")
    out.append(f"  17 LFPW-twin points: {_fmt(he['lfpw17'])}   all 68 points: {_fmt(he['all68'])}")
    out.append(f"  its median is worse than {he['percentile_among_lfpw_humans']:.0f}% of the LFPW human spreads "
               f"(different images: a rough comparison)")
    out.append(f"  to compare J&dC (inter-pupil) with these (outer eye corners): on HELEN the eye-centre distance is "
               f"{he['eye_centre_over_outer_corner_distance']:.3f} x the outer-corner distance")
    out.append("")
    out.append(results["verdict"])
    out.append("")
    out += report_lfpw_test(results)
    return "\n".join(out)


def report_lfpw_test(results: Mapping) -> list[str]:
    """The printed lines of the LFPW test comparison (humans and the model on the same faces)."""
    t = results["numbers"]["lfpw_test"]
    out = [f"== LFPW test, the same faces: three LFPW workers, the LFPW average and the model vs the 300-W points, "
           f"{len(t['points'])} corresponding points =="]
    rp, rx = t["residual_paired"], t["residual_px_paired"]
    out.append(f"pairing: {t['paired']} of {t['faces']} shared faces paired with one of {t['urls']} LFPW URLs by the four "
               f"eye and mouth corners (rule: residual <= {t['rule']['max_residual']} of the outer-eye-corner distance, "
               f"runner-up >= {t['rule']['min_margin']}x the best, one face per URL)")
    out.append(f"  residual of the paired (mean corner distance): median {rp['median']:.4f}, max {rp['max']:.4f} of the "
               f"outer-eye-corner distance = median {rx['median']:.2f}, max {rx['max']:.2f} prepared px")
    for name, why in t["refused"].items():
        out.append(f"  refused {name}: {why}")
    dx, dy = t["corner_offset_original_px"]
    out.append(f"  LFPW average minus 300-W at the corners, median: ({dx:+.2f}, {dy:+.2f}) original px "
               f"(LFPW_OFFSET = {t['lfpw_offset']})")
    out.append(f"  model boxes: {t['boxes']} ({t['fallback_boxes']} fallback); missing worker rows: {t['missing_worker_rows']}")
    out.append("correspondence check, median |LFPW average - iBUG location| / outer-eye-corner distance (kept = compared):")
    for name, d in t["candidate_offsets"].items():
        cand = "+".join(str(c) for c in LFPW_CANDIDATES[name][0])
        out.append(f"  {name:31s} iBUG {cand:17s} {d:.4f}  {'kept' if name in t['points'] else 'left out'}")
    for norm in NORMALISERS:
        e = t[norm]
        out.append(f"NME ({norm}: {metrics.NORMALISER_NAMES[norm]} of the 300-W reference), per face:")
        for s in (*SOURCES[:3], "workers_pooled", "median_worker", "average", "model"):
            out.append(f"  {s:15s} {e[s]['n']:4d} faces  {_fmt(e[s])}")
        out.append(f"  the model beats the median worker on {100 * e['fraction_model_beats_median_worker']:.1f}% of the faces, "
                   f"every worker on {100 * e['fraction_model_beats_every_worker']:.1f}%, the LFPW average on "
                   f"{100 * e['fraction_model_beats_average']:.1f}%; it is worse than every worker on "
                   f"{100 * e['fraction_model_worse_than_every_worker']:.1f}%")
        out.append("  faces above 0.08: " + ", ".join(f"{s} {100 * r:.1f}%" for s, r in e["failure_rate_0.08"].items()))
    out.append("  the model's worst faces (inter_ocular): " + ", ".join(
        f"{w['name']} {w['model']:.4f} (median worker {w['median_worker']:.4f})" for w in t["model_worst_faces"]))
    out.append("per point, median error: workers (pooled) | LFPW average | model, by outer eye corners ; by eye centres")
    for p, v in t["inter_ocular"]["per_point_median"].items():
        w = t["inter_pupil"]["per_point_median"][p]
        out.append(f"  {p:31s} {v['workers']:.4f} | {v['average']:.4f} | {v['model']:.4f} ; "
                   f"{w['workers']:.4f} | {w['average']:.4f} | {w['model']:.4f}")
    for v in results["lfpw_test_verdict"].values():
        out.append(v.text)
    out.append("Caveat: the LFPW workers were not censored (no tool refused a far click, unlike J&dC), but the reference "
               "is 300-W's re-annotation, itself one more human annotation with its own conventions, and the model "
               "was trained on that convention. A worker's error here is disagreement between two annotation "
               "protocols plus their own noise; 'human level' means 'as close to 300-W's annotators as an LFPW worker "
               "is', not 'as close to the truth'.")
    return out


FIGURES = ("human_errors.png", "human_points.png", "human_repeatability.png", "human_lfpw_ced.png",
           "human_reference_check.png", "human_lfpw_pairing.png", "human_lfpw_test_ced.png", "human_lfpw_test_points.png")
PER_FACE_CSV = "human_lfpw_test_faces.csv"
"""Per paired LFPW test face: name, URL and every source's NME under both normalisers (written by :func:`save_figures`)."""


def save_figures(results: Mapping, out: str | os.PathLike, root: str | os.PathLike | None = None, dpi: int = 110) -> list[Path]:
    """Draw and save the study's figures (:data:`FIGURES`) and the per-face LFPW test table
    (:data:`PER_FACE_CSV`) into ``out``; returns their paths."""
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figs = [
        plot_error_distributions(results["errors"], results["model"]),
        plot_point_errors(results["errors_all"], results["model"]),
        plot_repeatability(results["repeatability"], results["errors"], results["model_spread"]),
        plot_lfpw_ced(results["lfpw_spread"], results["helen_lfpw_nme"]),
        plot_reference_check(results["table"], root),
        plot_lfpw_pairing(results["lfpw_test"]),
        plot_lfpw_test_ced(results["lfpw_test_comparison"]),
        plot_lfpw_test_points(results["lfpw_test_comparison"]),
    ]
    paths = []
    for fig, name in zip(figs, FIGURES):
        fig.savefig(out / name, dpi=dpi)
        plt.close(fig)
        paths.append(out / name)
    rows = results["numbers"]["lfpw_test"]["per_face"]
    with open(out / PER_FACE_CSV, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows([{k: (f"{v:.5f}" if isinstance(v, float) else v) for k, v in r.items()} for r in rows])
    paths.append(out / PER_FACE_CSV)
    return paths


DOC_BEGIN = "<!-- begin: output of facelandmarks human (written by --doc) -->"
DOC_END = "<!-- end: output of facelandmarks human -->"


def _split_doc(path: Path) -> tuple[str, str]:
    """The text of ``path`` before :data:`DOC_BEGIN` and after :data:`DOC_END` (errors: see :func:`write_into_doc`)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such Markdown file for --doc")
    old = path.read_text(encoding="utf-8")
    if old.count(DOC_BEGIN) != 1 or old.count(DOC_END) != 1 or old.index(DOC_BEGIN) > old.index(DOC_END):
        raise ValueError(f"{path}: needs exactly one line {DOC_BEGIN!r} followed by one line {DOC_END!r}")
    head, rest = old.split(DOC_BEGIN)
    return head, rest.split(DOC_END)[1]


def write_into_doc(doc: str | os.PathLike, text: str) -> Path:
    """Replace what lies between :data:`DOC_BEGIN` and :data:`DOC_END` in the Markdown file ``doc``
    with ``text`` as a code block (``facelandmarks human --doc docs/human.md``); returns the path.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file lacks one marker, or has them out of order or more than once.
    """
    path = Path(doc)
    head, tail = _split_doc(path)
    path.write_text(f"{head}{DOC_BEGIN}\n```\n{text.rstrip()}\n```\n{DOC_END}{tail}", encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """``facelandmarks human`` / ``benchmarks/human_study.py``: print the numbers, save the figures."""
    p = argparse.ArgumentParser(prog="facelandmarks human", description="How close to human? The J&dC crowd/expert "
                                "study, the LFPW three-annotator spread, three LFPW workers vs the cascade on the same "
                                "LFPW test faces, with the same metrics.")
    p.add_argument("--data", type=Path, default=None, help="data root (default: $FACELANDMARKS_DATA)")
    p.add_argument("--out", type=Path, default=None, help="folder for the figures (none saved without it)")
    p.add_argument("--jitter", type=int, default=50, help="jittered boxes per J&dC image (default 50)")
    p.add_argument("--helen-limit", type=int, default=None, help="only the first N HELEN test faces")
    p.add_argument("--boxes", choices=("detector", "jittered"), default="detector",
                   help="HELEN and LFPW test face boxes: the face detector (default) or jittered ground-truth boxes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--json", type=Path, default=None, help="also write the numbers as JSON here")
    p.add_argument("--doc", type=Path, default=None,
                   help=f"also write the printed numbers into this Markdown file, between {DOC_BEGIN} and {DOC_END}")
    args = p.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.doc is not None:
        _split_doc(args.doc)  # fail on a bad file before the long run, not after
    results = run_study(args.data, n_jitter=args.jitter, helen_limit=args.helen_limit, boxes=args.boxes, seed=args.seed)
    text = report(results)
    print(text)
    if args.out is not None:
        for path in save_figures(results, args.out, args.data):
            print(f"wrote {path}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results["numbers"], indent=1))
        print(f"wrote {args.json}")
    if args.doc is not None:
        print(f"wrote {write_into_doc(args.doc, text)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
