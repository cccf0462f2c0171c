"""Networks. Stacked modules hold R independent runs in one set of tensors (leading run axis)."""
