"""The transport-free core: the data plane (decode -> infer -> encode's middle), what the
service says about itself (metadata, model configuration, reports) and model control."""
