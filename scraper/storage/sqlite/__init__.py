"""The SQLite backend, the embedded default: one file, WAL mode, one crawl (one worker) writing
at a time under the crawl lock. ``store`` (the crawl's writes and claims), ``readstore``
(read-only queries), ``schema`` (tables, versions, migrations), ``setup`` (opening and
migrating), ``statements`` (the SQL of writes and claims), ``lock`` (the crawl lock)."""
