"""``import sct`` loads what computing a gradient needs; the rest loads on first use (PEP 562)."""

import subprocess
import sys
from pathlib import Path

import pytest

import sct

ROOT = Path(__file__).resolve().parent.parent
LAZY = ("display", "explain", "export", "report_page", "testing")


def _run(code: str, tmp_path) -> None:
    script = tmp_path / "lazy_check.py"  # a file: sct reads the functions' source
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr


def test_import_sct_does_not_load_the_optional_modules(tmp_path):
    _run(
        "import sys\nimport sct\n"
        f"loaded = [m for m in {LAZY!r} + ('backend.native',) if 'sct.' + m in sys.modules]\n"
        "assert not loaded, loaded\n"
        "assert 'html' not in sys.modules\n",
        tmp_path,
    )


def test_a_gradient_is_computed_without_them(tmp_path):
    _run(
        "import sys\nimport numpy as np\nimport sct\n"
        "def f(x):\n    return np.sum(np.sin(x) * x)\n"
        "sct.grad(f)(np.ones(3))\n"
        f"loaded = [m for m in {LAZY!r} + ('backend.native',) if 'sct.' + m in sys.modules]\n"
        "assert not loaded, loaded\n",
        tmp_path,
    )


def test_each_lazy_attribute_resolves_in_a_new_process(tmp_path):
    _run(
        "import sct, sct.report_page, sct.testing\n"
        "assert sct.report is sct.report_page.report\n"
        "assert sct.check_grads is sct.testing.check_grads\n"
        "from sct import report, check_grads\n"
        "assert report is sct.report and check_grads is sct.check_grads\n"
        "import sct.backend\n"
        "assert sct.backend.native.Native is not None\n",
        tmp_path,
    )


@pytest.mark.parametrize("name", ["report", "check_grads", *LAZY])
def test_lazy_attributes_resolve_and_are_listed(name):
    assert getattr(sct, name) is not None
    assert name in dir(sct)


def test_the_lazy_functions_are_the_modules_own():
    from sct import check_grads, report
    from sct.report_page import report as report_
    from sct.testing import check_grads as check_grads_

    assert report is report_ and check_grads is check_grads_
    assert {"report", "check_grads"} <= set(sct.__all__)


def test_star_import_gives_every_public_name():
    namespace = {}
    exec("from sct import *", namespace)
    assert {"grad", "report", "check_grads", "jacobian"} <= set(namespace)


def test_an_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_thing"):
        sct.no_such_thing  # noqa: B018
    with pytest.raises(AttributeError):
        sct.backend.no_such_thing  # noqa: B018
    assert not hasattr(sct, "no_such_thing")


def test_sct_source_and_the_notebook_view_load_display_when_used(tmp_path):
    _run(
        "import sys\nimport numpy as np\nimport sct\n"
        "def f(x):\n    return np.sum(x * x)\n"
        "g = sct.grad(f)\n"
        "assert 'sct.display' not in sys.modules\n"
        "html = g._repr_html_()\n"
        "assert 'sct.display' in sys.modules and 'delta_x' in html\n"
        "assert 'delta_x' in str(sct.source(f, args=(np.ones(2),)))\n",
        tmp_path,
    )
