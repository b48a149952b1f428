"""airspeed velocity suite: each loop kernel timed beside its NumPy matrix twin."""
