"""The progress rule: ``"auto"`` shows a bar for long work someone can see; 0 never; 1 always."""

import io
import sys
import time

import pytest

from tabsift.cli._arguments import add_progress_arguments, progress_level
from tabsift.utils import _progress, progress


def _bar_text(verbose, monkeypatch, *, watched, seconds=0.0, delay=None):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setattr(_progress, "_someone_watches", lambda: watched)
    if delay is not None:
        monkeypatch.setattr(_progress, "AUTO_DELAY", delay)
    for _ in progress(range(3), verbose=verbose, desc="phase name"):
        time.sleep(seconds)
    return stream.getvalue()


def test_zero_is_silent_and_one_shows_the_named_phase(monkeypatch):
    assert _bar_text(0, monkeypatch, watched=True) == ""
    assert "phase name" in _bar_text(1, monkeypatch, watched=False)


def test_auto_needs_someone_watching(monkeypatch):
    assert _bar_text("auto", monkeypatch, watched=False, delay=0.0) == ""
    assert "phase name" in _bar_text("auto", monkeypatch, watched=True, delay=0.0)


def test_auto_waits_for_long_work(monkeypatch):
    # Quick work stays silent even when watched; work past the delay shows its bar.
    assert _bar_text("auto", monkeypatch, watched=True, delay=60.0) == ""
    assert "phase name" in _bar_text("auto", monkeypatch, watched=True, seconds=0.05, delay=0.02)


def test_a_captured_stream_is_not_watched(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert _progress.progress_settings("auto") == (False, _progress.AUTO_DELAY)
    with pytest.raises(ValueError, match="verbose must be an int, a bool or 'auto'"):
        _progress.progress_settings("loud")


def test_cli_progress_options():
    import argparse

    parser = argparse.ArgumentParser()
    add_progress_arguments(parser)
    assert progress_level(parser.parse_args([])) == "auto"
    assert progress_level(parser.parse_args(["-q"])) == 0
    assert progress_level(parser.parse_args(["-vv"])) == 2
    with pytest.raises(SystemExit):
        parser.parse_args(["-q", "-v"])


def test_estimators_default_to_auto():
    from tabsift.feature_selection import KANSelector
    from tabsift.residual import ResidualAgentRegressor
    from tabsift.rules import BooleanRuleClassifier
    from tabsift.sampling import KCenterSelector
    from tabsift.tree import EvolvedTreeClassifier

    for estimator in (KANSelector(), ResidualAgentRegressor(), BooleanRuleClassifier(),
                      KCenterSelector(), EvolvedTreeClassifier()):
        assert estimator.get_params()["verbose"] == "auto", type(estimator).__name__
