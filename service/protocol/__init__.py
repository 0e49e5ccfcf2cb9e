"""The transport-free language of inference: requests and responses, tensors and datatypes,
and what each task kind means at serving time."""
