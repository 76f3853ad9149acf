"""The issue's four example rules, as a proposal carries rules: what the detection tests and the
benchmark run with (COUNTER_WINDOWS' default keeps their pairs)."""

EXAMPLE_RULES = {
    "card-shared": {"key": "card", "window": "24h", "aggregate": "customers", "comparison": ">", "threshold": 1,
                    "weight": 40, "description": "A card used by more than one customer in 24 h."},
    "card-countries": {"key": "card", "window": "1h", "aggregate": "countries", "comparison": ">", "threshold": 3,
                       "weight": 30, "description": "A card used in more than 3 countries in 1 h."},
    "device-farm": {"key": "device", "window": "24h", "aggregate": "customers", "comparison": ">", "threshold": 20,
                    "weight": 60, "description": "A device used by more than 20 customers in 24 h."},
    "merchant-burst": {"key": "merchant", "window": "10min", "aggregate": "count", "comparison": ">", "threshold": 50,
                       "weight": 20, "description": "More than 50 transactions at one merchant in 10 min."},
}
