"""Smart charging: reach the driver's target charge by the deadline on the cheapest energy."""
