"""Evaluation: the 2D density metrics (paper-compatible and corrected) and the evaluator."""
