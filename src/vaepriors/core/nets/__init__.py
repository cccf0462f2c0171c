"""Networks that hold R independent runs in one set of tensors (a leading run axis or grouped channels)."""
