"""Storage: the catalog (one DuckDB file opened per unit of work) and the lake
(hive-partitioned Parquet segments read through DuckDB views)."""
