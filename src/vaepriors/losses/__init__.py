"""Loss terms shared by every model: Gaussian densities, KL estimators, reconstruction, responsibilities."""
