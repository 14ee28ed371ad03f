"""n8n: notifications through webhooks, decisions asked of a workflow, its public API."""
