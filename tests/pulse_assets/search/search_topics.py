"""The topic pages of the search tests, and delivering and indexing them with the `pipeline`."""

from __future__ import annotations

from typing import Any

VOLCANO_URL = "https://topics.example/volcanoes"
SOURDOUGH_URL = "https://topics.example/sourdough"
CHESS_URL = "https://topics.example/chess"
VOLCANO_QUERY = "magma and lava of erupting volcanoes"

_VOLCANO_SECTION = (
    "Volcanoes erupt when magma rises through the crust and reaches the surface as lava. "
    "Basaltic lava flows far, while viscous magma traps gas and erupts explosively, throwing "
    "ash, pumice and volcanic bombs into the air. Pyroclastic flows of hot gas and rock race "
    "down the slopes of stratovolcanoes such as Vesuvius, Fuji and Mount St. Helens. "
)
# Four long sections, so that the page splits into several chunks.
VOLCANO_PAGE = "\n\n".join(
    f"## Eruption stage {stage}\n\n{_VOLCANO_SECTION * 3}" for stage in range(1, 5)
)
SOURDOUGH_PAGE = (
    "# Sourdough bread\n\nSourdough bread rises with a fermented starter of flour and water. "
    "Wild yeast and lactobacilli leaven the dough slowly and give the crumb its sour taste. "
    "Bakers fold the dough, proof it overnight and bake it in a hot Dutch oven."
)
CHESS_PAGE = (
    "# Chess openings\n\nThe Sicilian Defence and the Queen's Gambit are common chess openings. "
    "White moves a pawn or a knight first, and both players race to control the centre, "
    "develop their bishops and castle the king to safety."
)
TOPIC_PAGES = {VOLCANO_URL: VOLCANO_PAGE, SOURDOUGH_URL: SOURDOUGH_PAGE, CHESS_URL: CHESS_PAGE}


def page_delivery(crawl_id: str, webhook_id: str, url: str, markdown: str) -> dict[str, Any]:
    """Return a Firecrawl `crawl.page` webhook body of one scraped page."""
    title = markdown.splitlines()[0].lstrip("# ")
    return {
        "success": True,
        "type": "crawl.page",
        "id": crawl_id,
        "webhookId": webhook_id,
        "data": [
            {
                "markdown": markdown,
                "metadata": {"sourceURL": url, "statusCode": 200, "title": title},
            }
        ],
        "metadata": {},
    }


def index_pages(pipeline: Any, crawl_id: str, pages: dict[str, str]) -> None:
    """Deliver one page per URL and run the indexing job that the sensor requests."""
    for number, (url, markdown) in enumerate(pages.items()):
        assert (
            pipeline.deliver(page_delivery(crawl_id, f"wh-{crawl_id}-{number}", url, markdown))
            == 200
        )
    results = pipeline.tick_and_run()
    assert [result.success for result in results] == [True]
