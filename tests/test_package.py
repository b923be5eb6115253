"""Package-level behaviour: fast import, configuration, optional dependencies, atomic writes."""

import os
import subprocess
import sys
import threading

import pytest

import tabsift
from tabsift.utils import atomic_write, atomic_write_text, import_optional_dependency, progress


def test_import_is_light_and_fast():
    code = (
        "import sys, time; t = time.perf_counter(); import tabsift; "
        "dt = time.perf_counter() - t; "
        "heavy = [m for m in ('torch', 'ot', 'xgboost', 'shap', 'sklearn', 'openai', 'pandas') "
        "if m in sys.modules]; print(dt, heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    dt, heavy = out.stdout.split(" ", 1)
    assert heavy.strip() == "[]", f"import tabsift loaded heavy modules: {heavy}"
    assert float(dt) < 0.5


def test_lazy_submodules_and_unknown_attribute():
    assert tabsift.backend.__name__ == "tabsift.backend"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        tabsift.nope  # noqa: B018


def test_config_is_thread_local():
    seen = {}

    def worker():
        seen["thread"] = tabsift.get_config()["array_backend"]

    with tabsift.config_context(array_backend="numpy"):
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        assert tabsift.get_config()["array_backend"] == "numpy"
    assert seen["thread"] is None


def test_config_restored_after_error():
    with pytest.raises(RuntimeError):
        with tabsift.config_context(array_backend="numpy"):
            raise RuntimeError
    assert tabsift.get_config()["array_backend"] is None


def test_optional_dependency_names_the_extra():
    import importlib.util

    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("cupy is installed here, so its import cannot fail")
    with pytest.raises(ImportError, match=r'pip install "tabsift\[gpu\]"') as info:
        import_optional_dependency("cupy", purpose="GPU arrays")
    assert "needed for GPU arrays" in str(info.value)


def test_optional_dependency_missing_module_and_min_version():
    with pytest.raises(ImportError, match="Missing optional dependency 'surely_absent_pkg'") as info:
        import_optional_dependency("surely_absent_pkg", extra="bench")
    assert isinstance(info.value.__cause__, ImportError)
    assert 'pip install "tabsift[bench]"' in str(info.value)
    with pytest.raises(ImportError, match=r"needs numpy>=999"):
        import_optional_dependency("numpy", min_version="999")
    # The minimum declared in setup.cfg is found from the package metadata.
    from tabsift.utils._optional import _declared_requirements

    extra, req = _declared_requirements()["dask"]
    assert extra == "dask" and str(req.specifier).startswith(">=")


def test_atomic_write_leaves_old_file_on_error(tmp_path):
    target = tmp_path / "result.json"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as f:
            f.write("half-writ")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["result.json"]


def test_atomic_write_uses_the_usual_file_mode(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    target = tmp_path / "shared.txt"
    atomic_write_text(target, "x")
    assert (target.stat().st_mode & 0o777) == (0o666 & ~umask)


def test_progress_is_silenced_by_verbose_zero(capsys):
    assert list(progress(range(3), verbose=0)) == [0, 1, 2]
    assert capsys.readouterr().err == ""
