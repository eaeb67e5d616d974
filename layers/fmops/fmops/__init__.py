"""fmops runtime: pure domain, event contracts and small AWS adapters."""
