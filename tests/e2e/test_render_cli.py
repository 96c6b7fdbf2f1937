"""`fusebook render` through the command line."""

from __future__ import annotations

from .conftest import RECIPES, fusebook


def test_render_shows_the_unit_and_fails_on_a_template_error() -> None:
    r = fusebook("render", RECIPES / "custom-mac.yaml", "--index", "3", "--chip", "esp32s3")
    assert r.code == 0, r.err
    assert "esp32s3 (blank chip), index 3" in r.out and "custom MAC for this unit" in r.out
    assert "-> holds" in r.out

    r = fusebook("render", RECIPES / "custom-mac.yaml", "--format", "json")
    assert r.code == 2
    step = r.json["steps"][0]
    assert step["error"]["hint"].startswith("this template uses `index`") and not step["applies"]
