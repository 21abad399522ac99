"""Case registration (办件编号) and the town → district hand-over."""
