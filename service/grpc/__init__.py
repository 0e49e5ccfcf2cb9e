"""gRPC, the second transport: the Open Inference Protocol's GRPCInferenceService with
Triton's configuration, statistics and repository calls, and the standard health service,
over the same data plane as HTTP (see docs/architecture.md).

    server.py     the grpcio asyncio server, its options, started by the app's lifespan
    gate.py       what every call goes through: request id, in-flight limit, credentials,
                  status codes, metrics and the access log (api/gateway.py for gRPC)
    inference.py  the calls, declared once, each a few lines over the data plane
    health.py     grpc.health.v1
    codec.py      ModelInferRequest -> InferenceRequest, InferenceResponse -> ModelInferResponse
    status.py     domain errors -> gRPC status codes
    protos/       the .proto files, vendored from Triton's common repository
    generated/    their Python code, made by scripts/generate_grpc_code.py (committed)
"""
