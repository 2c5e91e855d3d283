"""BMKG weather warnings (CAP 1.2 nowcasts) and earthquake reports for Kota Kediri (DESIGN.md §6).

Pure parsers and rules (`cap`, `rss`, `quake`, `area`), the Redis adapter for dedupe (`store`), the
glue that turns a document into a `weather-alerts` event (`ingest`), the feed pollers (`poller`) and the
HTTP endpoints (`api`).
"""
