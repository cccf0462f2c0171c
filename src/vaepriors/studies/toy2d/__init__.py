"""The 2D density benchmark of "Prior Learning in Introspective VAEs" (Tables 1, 3, 4; Figures 3, 6)."""
