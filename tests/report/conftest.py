from report_support import workdir  # noqa: F401  (the fixture, for every test here)
