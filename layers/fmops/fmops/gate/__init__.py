"""The promotion gate: policies as code and the decision they produce for a model version."""
