"""Interactive inspection in Jupyter: a prediction browser, a cascade viewer, a CED explorer, and the
"You vs the CNN" annotator.

One module per widget, each with its logic (no widgets, tested without a browser in
``tests/test_widgets.py``) and its ``ipywidgets.VBox`` subclass whose controls are named attributes:

* :mod:`~facelandmarks.widgets.browser`: :class:`BrowserState`, :func:`face_subsets`,
  :func:`group_errors`, :class:`PredictionBrowser`;
* :mod:`~facelandmarks.widgets.cascade_viewer`: :func:`cascade_stages`, :class:`CascadeViewer`;
* :mod:`~facelandmarks.widgets.ced_explorer`: :func:`failing_faces`, :func:`ced_failures`, :class:`CedExplorer`;
* :mod:`~facelandmarks.widgets.annotator`: :class:`Viewport`, :func:`score_session`, :class:`AnnotationWidget`;
* :mod:`~facelandmarks.widgets.drawing`: what they share: matplotlib (Agg, without pyplot) into PNG
  bytes shown in an ``ipywidgets.Image`` (fast, and renders wherever ipywidgets do), the colours of
  the point sets. Landmarks, boxes and CED curves are drawn by :mod:`facelandmarks.viz`.

Example (in a notebook)::

    from facelandmarks import datasets, load_pretrained, widgets
    from facelandmarks.evaluation import evaluate
    ev = evaluate(load_pretrained(), datasets.load_split("test", limit=20), boxes="jittered")
    widgets.prediction_browser(ev)
"""
from ..metrics import NORMALISER_NAMES
from .annotator import AnnotationWidget, SessionResult, Viewport, annotation_widget, score_session
from .browser import (DEFAULT_LAYERS, LAYERS, ORDERS, BrowserState, PredictionBrowser, face_subsets, group_errors,
                      prediction_browser, render_face)
from .cascade_viewer import CascadeStages, CascadeViewer, cascade_stages, cascade_viewer, render_patch, render_stages
from .ced_explorer import CedExplorer, ced_explorer, ced_failures, failing_faces
from .drawing import render_thumbnail

__all__ = [
    "ORDERS", "LAYERS", "DEFAULT_LAYERS", "NORMALISER_NAMES",
    "BrowserState", "face_subsets", "group_errors", "failing_faces", "ced_failures",
    "CascadeStages", "cascade_stages", "Viewport", "SessionResult", "score_session",
    "render_face", "render_thumbnail", "render_stages", "render_patch",
    "PredictionBrowser", "CascadeViewer", "CedExplorer", "AnnotationWidget",
    "prediction_browser", "cascade_viewer", "ced_explorer", "annotation_widget",
]
