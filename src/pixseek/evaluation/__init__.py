"""Evaluation: the classification study, retrieval metrics, reports, plots and the runtime profile."""
