"""Frame and text embedders: the weight-free copy descriptor and transformers models."""
