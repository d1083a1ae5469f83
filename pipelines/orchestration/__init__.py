"""Orchestrator integrations (optional extras): `pipelines.orchestration.dagster` for Dagster."""
