"""Loss terms shared by every study: Gaussian densities, KL estimators, reconstruction, responsibilities,
the Soft-IntroVAE objective and the dpVAE paper's regularisers."""
