"""The model repository as the service reads it: folders scanned without trusting the disk,
through calls that may hang (a thread and a deadline each)."""
