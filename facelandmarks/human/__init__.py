"""Human annotation studies and the human-versus-model comparison (the paper's "human study").

Two real data sets of repeated human annotations (see ``data/README.md``, section ``human/``): the
**J&dC** crowd/expert study (4 images, 22 points, every click next to the image's reference point)
and the **LFPW** test annotations (300 faces, three workers each, no images). Coordinates follow the
package convention (float (x, y), 0-based pixel centres); every error is an NME with a *named*
normaliser (J&dC: ``inter_pupil``, reference pupils P71-P72; LFPW and HELEN: ``inter_ocular``).

The modules, one job each (every public name is also available here, as ``human.X``):

* :mod:`~facelandmarks.human.formats`: the J&dC and LFPW readers and the studies' facts as data;
* :mod:`~facelandmarks.human.analysis`: human and model errors, per-point summaries, the verdict;
* :mod:`~facelandmarks.human.lfpw_test`: the shared LFPW test faces paired with LFPW's own annotations,
  and workers, their average and the model measured against 300-W on the same faces;
* :mod:`~facelandmarks.human.repeatability`: how far repeated clicks of one annotator spread;
* :mod:`~facelandmarks.human.figures`: the study's figures;
* :mod:`~facelandmarks.human.session`: "You vs the CNN" (:class:`AnnotationSession`, pure logic; its
  widget is in :mod:`facelandmarks.widgets`) and pooling a class's sessions;
* :mod:`~facelandmarks.human.study`: the whole comparison as one run and the ``facelandmarks human`` command.
"""
from .analysis import (AnnotationErrors, LfpwSpread, ModelErrors, annotation_errors, consensus_offset, lfpw_spread,
                       model_errors, model_lfpw_errors, percentile_of, point_summary, verdict)
from .figures import (plot_error_distributions, plot_lfpw_ced, plot_lfpw_pairing, plot_lfpw_test_ced, plot_lfpw_test_points,
                      plot_point_errors, plot_reference_check, plot_repeatability)
from .formats import (GROUPS, JDC_FOLDER, JDC_IBUG_POINTS, JDC_IMAGES, JDC_JAW_POINTS, JDC_NORMALISER, JDC_OFFSET, JDC_OWN_POINTS,
                      JDC_POINT_IDS, JDC_POINT_NAMES, JDC_POINT_SHORT, JDC_PUPILS, LFPW_FILE, LFPW_IBUG_INDICES,
                      LFPW_POINTS, LFPW_TO_IBUG68, ClickTable, JdcFormatError, LfpwAnnotations, LfpwFormatError,
                      jdc_image_path, jdc_normaliser, jdc_references, jdc_to_ours, load_jdc, load_lfpw, point_number,
                      read_jdc_file)
from .lfpw_test import (LFPW_CANDIDATES, LFPW_OFFSET, LFPW_TEST_SUBSET, PAIR_MAX_RESIDUAL, PAIR_MIN_MARGIN, PAIRING_POINTS,
                        CropWindow, LfpwComparison, LfpwTestSet, LfpwVerdict, Pairing, candidate_offsets, compare,
                        corner_offset, lfpw_to_prepared, lfpw_verdict, pair_faces, pair_lfpw_test, read_crop_windows)
from .repeatability import Repeatability, model_repeatability, repeatability
from .session import AnnotationSession, SessionFormatError, SessionScore, class_study_figures, pool_sessions
from .study import (DOC_BEGIN, DOC_END, FIGURES, PER_FACE_CSV, main, report, report_lfpw_test, run_study, save_figures,
                    write_into_doc)

__all__ = [
    "JDC_FOLDER", "JDC_IMAGES", "JDC_POINT_IDS", "JDC_POINT_NAMES", "JDC_POINT_SHORT", "JDC_IBUG_POINTS", "JDC_JAW_POINTS",
    "JDC_PUPILS", "JDC_OWN_POINTS", "JDC_NORMALISER", "JDC_OFFSET", "GROUPS", "LFPW_FILE", "LFPW_POINTS", "LFPW_TO_IBUG68",
    "LFPW_IBUG_INDICES", "JdcFormatError", "LfpwFormatError", "SessionFormatError",
    "ClickTable", "jdc_to_ours", "point_number", "read_jdc_file", "load_jdc", "jdc_image_path", "jdc_references", "jdc_normaliser",
    "AnnotationErrors", "annotation_errors", "ModelErrors", "model_errors", "Repeatability", "repeatability",
    "model_repeatability", "point_summary", "consensus_offset", "percentile_of", "verdict",
    "LfpwAnnotations", "load_lfpw", "LfpwSpread", "lfpw_spread", "model_lfpw_errors",
    "plot_error_distributions", "plot_point_errors", "plot_repeatability", "plot_lfpw_ced", "plot_reference_check",
    "AnnotationSession", "SessionScore", "pool_sessions", "class_study_figures", "run_study", "report", "save_figures",
    "FIGURES", "main",
    "LFPW_TEST_SUBSET", "LFPW_OFFSET", "LFPW_CANDIDATES", "PAIRING_POINTS", "PAIR_MAX_RESIDUAL", "PAIR_MIN_MARGIN",
    "CropWindow", "read_crop_windows", "lfpw_to_prepared", "Pairing", "pair_faces", "LfpwTestSet", "pair_lfpw_test",
    "corner_offset", "candidate_offsets", "LfpwComparison", "compare", "LfpwVerdict", "lfpw_verdict",
    "plot_lfpw_pairing", "plot_lfpw_test_ced", "plot_lfpw_test_points", "report_lfpw_test", "PER_FACE_CSV",
    "DOC_BEGIN", "DOC_END", "write_into_doc",
]
