"""The orchestrator: charging actions routed across vehicle and charger, verified from data."""
