"""The PostgreSQL backend: several workers, on any number of machines, share one crawl."""
