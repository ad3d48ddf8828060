"""Live meeting state: one Room (an actor task) per open Meeting."""
