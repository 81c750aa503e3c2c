from loa.cli import main

raise SystemExit(main())
