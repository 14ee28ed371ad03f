from ibtrader.cli import main

raise SystemExit(main())
