"""The package imports cheaply and re-exports its main names lazily."""

from __future__ import annotations

import subprocess
import sys

import silkgate.codelists as codelists


def test_import_loads_nothing_heavy() -> None:
    code = (
        "import sys, silkgate.codelists as c; "
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('pycountry', 'stdnum')"
        " or m.startswith('silkgate.codelists.')]; "
        "assert not heavy, heavy; "
        "assert c.is_valid_hs('847130'); "
        "assert 'stdnum' not in sys.modules and 'pycountry' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_reexports() -> None:
    for name in codelists.__all__:
        assert getattr(codelists, name) is not None
    assert codelists.validate_kz_bin("980412400019") == "980412400019"
    assert set(dir(codelists)) == set(codelists.__all__)
