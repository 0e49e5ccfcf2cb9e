"""What both transports share, per request: request ids, the in-flight count and its limit,
credentials, the request context, the access record, and domain errors as statuses."""
