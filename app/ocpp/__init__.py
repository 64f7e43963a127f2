"""OCPP 1.6J central system: charge points connect to Tandem over websockets (`/ocpp/{id}`)."""
