"""The README's tour shows the example recipe as it is in recipes/, so the tour runs as shown."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_tour_recipe_is_the_file_in_recipes() -> None:
    readme = (ROOT / "README.md").read_text()
    marker = "```yaml\n# recipes/production-esp32c3.yaml\n"
    start = readme.index(marker) + len(marker)
    shown = readme[start:readme.index("```", start)]
    assert shown == (ROOT / "recipes" / "production-esp32c3.yaml").read_text()
