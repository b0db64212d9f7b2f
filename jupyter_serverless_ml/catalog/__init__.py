"""Reference data shared by every layer: instance types and their list prices."""
