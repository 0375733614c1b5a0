"""The whole human comparison as one run: compute (:func:`run_study`), print (:func:`report`), draw
(:func:`save_figures`); :func:`main` is ``facelandmarks human`` and ``benchmarks/human_study.py``."""
from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from .. import metrics
from .analysis import (ModelErrors, annotation_errors, consensus_offset, lfpw_spread, model_errors, model_lfpw_errors,
                       percentile_of, point_summary, verdict)
from .figures import plot_error_distributions, plot_lfpw_ced, plot_point_errors, plot_reference_check, plot_repeatability
from .formats import (JDC_IBUG_POINTS, JDC_JAW_POINTS, JDC_POINT_IDS, JDC_POINT_NAMES, LFPW_POINTS, jdc_normaliser,
                      jdc_references, load_jdc, load_lfpw, point_number)
from .repeatability import model_repeatability, repeatability

if TYPE_CHECKING:  # pragma: no cover
    from ..models.cascade import Cascade

__all__ = ["run_study", "report", "FIGURES", "save_figures", "main"]


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
    ``model_spread``, ``points``, ``consensus_offset``, ``lfpw``, ``lfpw_spread``, ``helen``, ``helen_lfpw_nme``, ``numbers`` (a nested dict of
    plain numbers, the ones :func:`main` prints), ``verdict`` (text).
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
    summary, offsets = point_summary(errors, model), consensus_offset(errors, refs)
    n["jdc"]["per_point"] = {
        p: {**{f"{g}_median": float(summary[f"{g}_median"][k]) for g in [*errors.groups, "model"]},
            **{f"{g}_consensus_offset": float(offsets[g][k]) for g in errors.groups}}
        for k, p in enumerate(errors.point_ids)}
    return {"table": table, "errors": errors, "errors_all": errors_all, "references": refs, "model": model,
            "repeatability": rep, "model_spread": model_spread, "points": summary,
            "consensus_offset": offsets, "lfpw": lfpw,
            "lfpw_spread": spread, "helen": ev, "helen_lfpw_nme": helen_nme, "numbers": n,
            "verdict": verdict(errors, model)}


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
    return "\n".join(out)


FIGURES = ("human_errors.png", "human_points.png", "human_repeatability.png", "human_lfpw_ced.png",
           "human_reference_check.png")


def save_figures(results: Mapping, out: str | os.PathLike, root: str | os.PathLike | None = None, dpi: int = 110) -> list[Path]:
    """Draw and save the five figures of the study into ``out``; returns their paths."""
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figs = [
        plot_error_distributions(results["errors"], results["model"]),
        plot_point_errors(results["errors_all"], results["model"]),
        plot_repeatability(results["repeatability"], results["errors"], results["model_spread"]),
        plot_lfpw_ced(results["lfpw_spread"], results["helen_lfpw_nme"]),
        plot_reference_check(results["table"], root),
    ]
    paths = []
    for fig, name in zip(figs, FIGURES):
        fig.savefig(out / name, dpi=dpi)
        plt.close(fig)
        paths.append(out / name)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """``facelandmarks human`` / ``benchmarks/human_study.py``: print the numbers, save the figures."""
    p = argparse.ArgumentParser(prog="facelandmarks human", description="How close to human? The J&dC crowd/expert "
                                "study, the LFPW three-annotator spread and the cascade, with the same metrics.")
    p.add_argument("--data", type=Path, default=None, help="data root (default: $FACELANDMARKS_DATA)")
    p.add_argument("--out", type=Path, default=None, help="folder for the figures (none saved without it)")
    p.add_argument("--jitter", type=int, default=50, help="jittered boxes per J&dC image (default 50)")
    p.add_argument("--helen-limit", type=int, default=None, help="only the first N HELEN test faces")
    p.add_argument("--boxes", choices=("detector", "jittered"), default="detector",
                   help="HELEN face boxes: the face detector (default) or jittered ground-truth boxes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--json", type=Path, default=None, help="also write the numbers as JSON here")
    args = p.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    results = run_study(args.data, n_jitter=args.jitter, helen_limit=args.helen_limit, boxes=args.boxes, seed=args.seed)
    print(report(results))
    if args.out is not None:
        for path in save_figures(results, args.out, args.data):
            print(f"wrote {path}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results["numbers"], indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
