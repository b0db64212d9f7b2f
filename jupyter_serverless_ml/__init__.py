"""jupyter-serverless-ml."""
