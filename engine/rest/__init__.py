"""Camunda Orchestration Cluster REST API (``/v2``): the subset clerks and operators need."""
