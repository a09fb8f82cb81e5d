"""Pages built by JavaScript: a headless browser of the crawler's own, driven over the DevTools
protocol on a pipe (it dies with the crawler, kill -9 included)."""

from scraper.render.browser import BrowserCrashed, find_browser
from scraper.render.renderer import Renderer
from scraper.render.results import RenderResult, RenderStats
from scraper.render.transport import RenderTransport

__all__ = [
    "BrowserCrashed",
    "RenderResult",
    "RenderStats",
    "RenderTransport",
    "Renderer",
    "find_browser",
]
