"""Pictures of convolution geometry (placeholder, filled in below)."""
