"""The descriptor pool of the service's generated protocol code (see
scripts/generate_grpc_code.py for why it is not protobuf's default pool)."""

from google.protobuf import descriptor_pool

POOL = descriptor_pool.DescriptorPool()
