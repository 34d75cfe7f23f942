"""State-aware, durable orchestration for dbt Core."""

__version__ = "0.1.0"
