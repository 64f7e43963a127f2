"""A simulated world of vendor clouds, cars and chargers, served over HTTP (docs/vendor-api.md)."""
