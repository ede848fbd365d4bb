"""The persistent cache's bound (``SCT_CACHE_MAX_MB``): least recently used entries go, loads never fail.

Entries are stored here under made-up names from one compiled variant, so that a test can
store hundreds of them in a moment; each is a real entry that loads and runs.
"""

import json
import os
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

import numpy as np
import programs as P
import pytest

import sct
from sct import api, pipeline
from sct.backend import cache
from sct.cli import commands as cli

SOURCE = "import numpy as np\n\n\ndef f(x, y):\n    return np.sum(np.sin(x) * y) + y ** 2\n"
X = np.linspace(0.0, 1.0, 3)


@pytest.fixture
def stored(monkeypatch, tmp_path):
    """The cache on in ``tmp_path``, and ``(f, variant, size)``: a function, its compiled variant, an entry's size."""
    monkeypatch.setenv("SCT_CACHE", "1")
    monkeypatch.setenv("SCT_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("SCT_CACHE_MAX_MB", raising=False)
    monkeypatch.setattr(pipeline, "_CACHE", weakref.WeakKeyDictionary())
    monkeypatch.setattr(api, "_VARIANTS", weakref.WeakKeyDictionary())
    # rules other tests registered in this process (lambdas: not describable) would make every key None
    monkeypatch.setattr(cache, "_user_rules", lambda: ())
    f = P.load(SOURCE)
    np.testing.assert_allclose(sct.grad(f)(X, 2.0), 2.0 * np.cos(X))
    variant = next(iter(pipeline._CACHE[f].values()))
    cache.clear(str(tmp_path))
    assert store(f, variant, 0)
    size = cache.usage()[1]
    assert size > 500
    cache.clear(str(tmp_path))
    return f, variant, size


def name(i: int) -> str:
    return f"{i:040x}"


def store(f, variant, i: int) -> bool:
    return cache.store(name(i), f, variant)


def present(i: int) -> bool:
    return os.path.exists(os.path.join(cache.directory(), name(i) + cache.SUFFIX))


def age(i: int, seconds: float) -> None:
    """Entry ``i`` last used ``seconds`` ago."""
    then = time.time() - seconds
    os.utime(os.path.join(cache.directory(), name(i) + cache.SUFFIX), (then, then))


def same(a, b) -> None:
    assert type(a) is type(b)
    if isinstance(a, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    else:
        np.testing.assert_array_equal(a, b)


def test_the_default_bound_and_turning_it_off(monkeypatch):
    monkeypatch.delenv("SCT_CACHE_MAX_MB", raising=False)
    assert cache.limit() == 512 * 2**20
    for off in ("0", "off", "OFF", " none "):
        monkeypatch.setenv("SCT_CACHE_MAX_MB", off)
        assert cache.limit() is None
    monkeypatch.setenv("SCT_CACHE_MAX_MB", "1.5")
    assert cache.limit() == int(1.5 * 2**20)
    for bad in ("abc", "-1", "nan", "inf"):
        monkeypatch.setenv("SCT_CACHE_MAX_MB", bad)
        with pytest.raises(sct.SctError, match="SCT_CACHE_MAX_MB"):
            cache.limit()


def test_a_bad_bound_is_refused_by_the_gradient_call_that_would_store(stored, monkeypatch):
    monkeypatch.setenv("SCT_CACHE_MAX_MB", "512MB")
    monkeypatch.setattr(pipeline, "_CACHE", weakref.WeakKeyDictionary())
    monkeypatch.setattr(api, "_VARIANTS", weakref.WeakKeyDictionary())
    f = P.load(SOURCE)
    with pytest.raises(sct.SctError, match="SCT_CACHE_MAX_MB='512MB'"):
        sct.grad(f)(X, 2.0)
    assert cache.entries() == []  # refused before anything was written
    monkeypatch.setenv("SCT_CACHE", "0")  # the cache off: the bound is not read
    np.testing.assert_allclose(sct.grad(f)(X, 2.0), 2.0 * np.cos(X))


def test_the_bound_holds_after_many_stores(stored, monkeypatch):
    f, variant, size = stored
    bound = 20 * size
    monkeypatch.setenv("SCT_CACHE_MAX_MB", repr(bound / 2**20))
    scans = []
    scan = cache._scan
    monkeypatch.setattr(cache, "_scan", lambda path: scans.append(path) or scan(path))
    for i in range(200):
        assert store(f, variant, i)
        entries, used = cache.usage()
        assert used <= bound, (i, entries, used)
    del scans[-200:]  # the usage() calls of this test
    assert 1 <= len(scans) <= 200 // 3  # a scan per prune, and a prune frees a fifth of the bound
    assert entries >= 10
    assert all(present(i) for i in range(200 - entries, 200))  # the newest are the ones kept
    loaded = cache.load(name(199), f)
    same(loaded.function(X, 2.0), variant.function(X, 2.0))


def test_eviction_keeps_the_recently_used_entries(stored, monkeypatch):
    f, variant, size = stored
    monkeypatch.setenv("SCT_CACHE_MAX_MB", "off")
    for i in range(20):
        assert store(f, variant, i)
        age(i, 1000 - i)  # stored in the order 0, 1, ..., 19
    assert cache.load(name(3), f) is not None  # used now: its time is refreshed (it was over a minute old)
    assert cache.load(name(5), f) is not None
    removed, freed = cache.prune(10 * size)
    assert removed == 10 and freed == 10 * size
    kept = [i for i in range(20) if present(i)]
    assert kept == [3, 5, *range(12, 20)]
    assert cache.usage() == (10, 10 * size)


def test_a_load_touches_its_entry_at_most_once_a_minute(stored):
    f, variant, _ = stored
    assert store(f, variant, 0)
    path = os.path.join(cache.directory(), name(0) + cache.SUFFIX)
    age(0, 30)
    before = os.stat(path).st_mtime
    assert cache.load(name(0), f) is not None
    assert os.stat(path).st_mtime == before  # recent enough: no write
    age(0, 90)
    assert cache.load(name(0), f) is not None
    assert time.time() - os.stat(path).st_mtime < 10


def test_a_load_whose_entry_was_pruned_is_a_miss(stored):
    f, variant, _ = stored
    assert store(f, variant, 0)
    cache.prune(0)  # everything goes (as another process's prune would remove it)
    misses = cache.STATS["misses"]
    assert cache.load(name(0), f) is None
    assert cache.STATS["misses"] == misses + 1


def test_loads_racing_prunes_are_hits_or_misses_never_errors(stored):
    f, variant, _ = stored
    expected = variant.function(X, 2.0)
    stop, failures, outcomes = threading.Event(), [], []

    def pruner():
        while not stop.is_set():
            for i in range(4):
                store(f, variant, i)
            cache.prune(0)

    def loader():
        try:
            for k in range(400):
                found = cache.load(name(k % 4), f)
                outcomes.append(found is not None)
                if found is not None:
                    same(found.function(X, 2.0), expected)
        except Exception as exc:  # collected: an assert in a thread would be lost
            failures.append(repr(exc))

    threads = [threading.Thread(target=pruner), threading.Thread(target=loader)]
    for t in threads:
        t.start()
    threads[1].join()
    stop.set()
    threads[0].join()
    assert not failures, failures[:3]
    assert len(outcomes) == 400


def test_a_cache_older_than_the_bound_is_pruned_at_its_next_store(stored, monkeypatch):
    """A directory without the size estimate (made before the bound, or cleared) is scanned once, at a store."""
    f, variant, size = stored
    monkeypatch.setenv("SCT_CACHE_MAX_MB", "off")
    for i in range(30):
        assert store(f, variant, i)
        age(i, 1000 - i)
    assert not os.path.exists(os.path.join(cache.directory(), cache.ESTIMATE))  # no bound: never scanned
    monkeypatch.setenv("SCT_CACHE_MAX_MB", repr(10 * size / 2**20))
    assert store(f, variant, 30)
    entries, used = cache.usage()
    assert used <= cache.TARGET * 10 * size and present(30) and not present(0)


def test_stores_without_a_bound_are_counted_for_when_one_is_set(stored, monkeypatch):
    f, variant, size = stored
    monkeypatch.setenv("SCT_CACHE_MAX_MB", repr(10 * size / 2**20))
    assert store(f, variant, 0)  # the first store scans and starts the estimate
    monkeypatch.setenv("SCT_CACHE_MAX_MB", "0")
    for i in range(1, 30):
        assert store(f, variant, i)
    assert cache.usage() == (30, 30 * size)  # no bound: nothing removed
    monkeypatch.setenv("SCT_CACHE_MAX_MB", repr(10 * size / 2**20))
    assert store(f, variant, 30)
    assert cache.usage()[1] <= 10 * size


def test_clear_forgets_the_estimate(stored):
    f, variant, _ = stored
    assert store(f, variant, 0) and store(f, variant, 1)
    assert os.path.exists(os.path.join(cache.directory(), cache.ESTIMATE))
    assert cache.clear() == 2
    assert not os.path.exists(os.path.join(cache.directory(), cache.ESTIMATE))


def test_the_cache_commands_show_and_prune(stored, monkeypatch, capsys):
    f, variant, size = stored
    for i in range(10):
        assert store(f, variant, i)
        age(i, 1000 - i)
    assert cli.main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert "entries: 10 (" in out and "bound: 512.0 MiB" in out
    assert cli.main(["cache", "prune", "--max-mb", repr(4 * size / 2**20)]) == 0
    out = capsys.readouterr().out
    assert "removed 6 entries" in out and "left: 4 entries" in out
    assert [i for i in range(10) if present(i)] == [6, 7, 8, 9]
    monkeypatch.setenv("SCT_CACHE_MAX_MB", repr(2 * size / 2**20))
    assert cli.main(["cache", "prune"]) == 0
    assert "removed 2 entries" in capsys.readouterr().out
    assert [i for i in range(10) if present(i)] == [8, 9]
    monkeypatch.setenv("SCT_CACHE_MAX_MB", "off")
    assert cli.main(["cache", "prune"]) == 0
    assert "nothing removed" in capsys.readouterr().out
    assert cli.main(["cache", "info"]) == 0
    assert "bound: none" in capsys.readouterr().out
    monkeypatch.setenv("SCT_CACHE_MAX_MB", "lots")
    assert cli.main(["cache", "info"]) != 0
    assert "SCT_CACHE_MAX_MB='lots'" in capsys.readouterr().err
    assert cli.main(["cache", "prune", "--max-mb", "-3"]) != 0
    assert "--max-mb" in capsys.readouterr().err


RACE = """\
import json, os, sys, time
import numpy as np
import programs as P
import sct
from sct import pipeline
from sct.backend import cache

f = P.load(open(os.environ["SOURCE"]).read())
x = np.linspace(0.0, 1.0, 3)
sct.grad(f)(x, 2.0)
variant = next(iter(pipeline._CACHE[f].values()))
expected = variant.function(x, 2.0)
me = int(os.environ["ME"])
start = float(os.environ["START"])
while time.time() < start:
    pass
bad = hits = 0
for i in range(150):
    cache.store(f"{me:08x}{i:032x}", f, variant)
    found = cache.load(f"{1 - me:08x}{i:032x}", f)  # what the other process stored, maybe pruned
    if found is not None:
        hits += 1
        got = found.function(x, 2.0)
        bad += not all(np.array_equal(a, b) for a, b in zip(got, expected))
print(json.dumps({"bad": bad, "hits": hits}))
"""


def test_two_processes_storing_and_pruning_together(stored, tmp_path):
    f, variant, size = stored
    source = tmp_path / "source.py"
    source.write_text(SOURCE)
    tests = Path(__file__).resolve().parent
    environment = {**os.environ, "SOURCE": str(source), "START": str(time.time() + 3.0)}
    environment["SCT_CACHE_MAX_MB"] = repr(20 * size / 2**20)
    environment["PYTHONPATH"] = os.pathsep.join([str(tests), str(tests.parent)])
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACE],
            env={**environment, "ME": str(me)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for me in (0, 1)
    ]
    for racer in racers:
        out, err = racer.communicate(timeout=300)
        assert racer.returncode == 0, err.decode()
        assert json.loads(out.decode().splitlines()[-1])["bad"] == 0
    entries, used = cache.usage()
    assert entries > 0 and used <= 25 * size  # the bound, but for stores a prune's rewrite of the estimate missed
    assert cache.prune() == (0, 0) or cache.usage()[1] <= 20 * size
