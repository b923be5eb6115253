"""Every job refuses a table it cannot use with one tabsift message naming the file or column."""

import pytest

from tabsift.cli import main

# What each job needs besides the file; every option keeps a good run short.
JOBS = {
    "select-features": ["--target", "y", "--epochs", "2", "--cv", "2"],
    "fit-tree": ["--target", "y", "--generations", "1", "--population", "4"],
    "fit-rules": ["--target", "y", "--iterations", "20", "--starts", "1"],
    "correct-residuals": ["--target", "y", "--rounds", "1", "--base", "linear", "--cv", "2"],
    "select-rows": ["--method", "kcenter", "--label", "y", "--n", "1"],
}

# (file content, the message's telling part); {name} is the file's name.
BAD_TABLES = {
    "empty": ("", "{name} is empty (0 bytes)"),
    "header only": ("a,b,y\n", "{name} has a header but no rows"),
    "duplicate names": ("a,b,a,y\n1,2,3,0\n4,5,6,1\n", "{name} names column(s) 'a' more than once"),
    "all-missing target": ("a,b,y\n1,2,\n3,4,?\n5,6,NA\n", "column 'y' of {name} has no values"),
}


def _run(job, path, tmp_path, capsys):
    extra = JOBS[job]
    where = ["--pool", str(path)] if job == "select-rows" else [str(path)]
    code = main([job, *where, *extra, "--out", str(tmp_path / "out")])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("job", list(JOBS))
@pytest.mark.parametrize("case", list(BAD_TABLES))
def test_bad_tables_are_refused_by_name(job, case, tmp_path, capsys):
    content, message = BAD_TABLES[case]
    path = tmp_path / "bad.csv"
    path.write_text(content)
    code, err = _run(job, path, tmp_path, capsys)
    assert code == 1
    assert err.startswith("tabsift: error: ")
    assert message.format(name="bad.csv") in err
    assert not (tmp_path / "out" / "job.json").exists()


@pytest.mark.parametrize("job", [j for j in JOBS if j != "select-rows"])
def test_one_row_and_one_class_are_refused_by_name(job, tmp_path, capsys):
    one_row = tmp_path / "one.csv"
    one_row.write_text("a,b,y\n1,2,0\n")
    code, err = _run(job, one_row, tmp_path, capsys)
    assert code == 1 and "one.csv has 1 row(s) with a target value in 'y'" in err
    if job in ("fit-rules", "fit-tree", "select-features", "correct-residuals"):
        one_class = tmp_path / "same.csv"
        one_class.write_text("a,b,y\n1,2,p\n3,4,p\n5,6,p\n")
        code, err = _run(job, one_class, tmp_path, capsys)
        assert code == 1 and "target column 'y' of same.csv has a single class ('p')" in err


@pytest.mark.parametrize("job", list(JOBS))
def test_a_missing_file_is_named(job, tmp_path, capsys):
    code, err = _run(job, tmp_path / "nope.csv", tmp_path, capsys)
    assert code == 2 and "nope.csv" in err and "does not exist" in err
