from fmops_cli.main import main

raise SystemExit(main())
