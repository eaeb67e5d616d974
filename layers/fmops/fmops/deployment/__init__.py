"""Deployment: an approved version moves through dev, preprod and prod, smoke-tested, with rollback.

Pure modules, each tested on its own (no boto3, no I/O; every moment is an argument):
- `config`: the deployment stages file (account, region, role, target, sizing, bounded wait,
  smoke test per stage), parsed with every problem and its JSON path; endpoint names;
- `trigger`: whether a SageMaker "Model Package State Change" starts a deployment, is ignored,
  or is refused (a Studio approval that bypassed fmops' gate or approvals);
- `smoke`: judging an endpoint's answers to the manifest's sample requests;
- `history`: what served where and when, approved by whom, on which evidence; the version an
  automatic rollback returns to.
"""
