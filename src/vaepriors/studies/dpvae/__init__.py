""""dpVAEs: Fixing Sample Generation for Regularized VAEs": regularised VAEs with a decoupled prior (Table 1,
Figures 1, 3, 4, 5, 6, 8)."""
