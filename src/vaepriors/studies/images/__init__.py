"""The image study of "Prior Learning in Introspective VAEs" (Tables 2, 5; Figures 2, 4, 5, 7, 8, 9)."""
