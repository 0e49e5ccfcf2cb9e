"""The per-request context both transports keep: the request id, and the model, version and
endpoint labels the request metrics and the access log are recorded under."""

from __future__ import annotations

from dataclasses import dataclass

from service.edge.request_ids import is_safe
from service.runtime.loaded_model import LoadedModel


@dataclass
class RequestContext:
    request_id: str
    request_id_from_client: bool
    endpoint: str = "other"
    model: str = ""
    version: str = ""

    def serving(self, model: LoadedModel, endpoint: str) -> None:
        self.model, self.version, self.endpoint = model.name, str(model.version), endpoint

    def adopt(self, request_id: str) -> None:
        """A request id from the body (v2's `id`), unless the client sent one in a header."""
        if not self.request_id_from_client and is_safe(request_id):
            self.request_id = request_id
