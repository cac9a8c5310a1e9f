"""The local stack: the same handlers and state machine as the cloud, on moto's server."""
