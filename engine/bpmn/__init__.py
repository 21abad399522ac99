"""BPMN parsing and validation into an immutable process model the processor executes."""
