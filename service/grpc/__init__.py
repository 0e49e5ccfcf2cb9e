"""gRPC, the second transport: the Open Inference Protocol's GRPCInferenceService with
Triton's configuration, statistics and repository calls, and the standard health service,
over the same data plane as HTTP (see docs/architecture.md).

    listener.py   the grpcio asyncio server, its options and its method table (the calls
                  served take their message as bytes; those not offered say so)
    gate.py       what every call goes through: request id, in-flight limit, credentials,
                  the message parsed within bounds, status codes, metrics and the access log
                  (api/gateway.py for gRPC)
    wire.py       a large message's cost counted on its bytes before protobuf parses it
    inference.py  the calls, declared once, each a few lines over the data plane
    health.py     grpc.health.v1
    codec.py      ModelInferRequest -> InferenceRequest, InferenceResponse -> ModelInferResponse
    codes.py      domain errors -> gRPC status codes
    protos/       the .proto files, vendored from Triton's common repository
    generated/    their Python code, made by scripts/generate_grpc_code.py (committed)
"""
