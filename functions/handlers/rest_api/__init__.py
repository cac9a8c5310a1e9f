"""The parts of the API handler (handlers.api): route modules, error answers, the OpenAPI document."""
