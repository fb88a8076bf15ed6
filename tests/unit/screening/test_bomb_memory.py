"""A decompression bomb never costs more than 200 MiB: measured as peak-RSS growth in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.conftest import REPO

LIMIT_MIB = 200

# Everything a real screening loads (libraries, a small decode) happens before the baseline is taken,
# so the growth after it is what the bombs themselves cost.
PROBE = textwrap.dedent(
    """
    import json, resource
    from PIL import Image
    from tests.data import make_corpus
    from tests.unit.screening.items import make_item, make_task
    from datacoop.screening.stages.decode import DecodeStage

    bombs = {"png": make_corpus.png_bomb(), "jpeg": make_corpus.jpeg_bomb(), "tiff": make_corpus.tiff_bomb()}
    task = make_task("image")
    DecodeStage().run(make_item(make_corpus.encode(make_corpus.scene((640, 480)))), task)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    verdicts = {name: DecodeStage().run(make_item(data), task).verdict.value for name, data in bombs.items()}
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"growth_kib": after - before, "verdicts": verdicts}))
    """
)


def test_bombs_are_refused_within_the_memory_limit() -> None:
    # Execute
    run = subprocess.run(
        [sys.executable, "-W", "error", "-c", PROBE],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )

    # Assert
    measured = json.loads(run.stdout)
    assert measured["verdicts"] == {"png": "fail", "jpeg": "fail", "tiff": "fail"}
    assert measured["growth_kib"] / 1024 < LIMIT_MIB, measured
