"""``scraper bench``: measurements of the crawler on local sites, outside the product.

:mod:`~scraper.bench.throughput` crawls a generated static site (:mod:`~scraper.bench.site`,
served by nginx or ``http.server``) against a raw fetch of its URLs and, optionally, Scrapy
(:mod:`~scraper.bench.scrapy_peer`); :mod:`~scraper.bench.frontier` checks that memory stays
flat as the frontier grows, on the test site. The product imports this package only inside the
``bench`` command; it uses the engine, the fetcher and :mod:`scraper.testing`'s process helpers.
"""
