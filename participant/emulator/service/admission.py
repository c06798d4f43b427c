"""What a request passes before it runs: the per-instance rate limits and idempotency by
ClientToken."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from participant.emulator.service.names import JSON
from participant.emulator.service.records import Participant, RateBucket
from participant.emulator.service.state import ServiceState
from participant.emulator.service.validation import ApiError, validation_error


class Admission(ServiceState):
    """Rate limits ([protocol](protocol.md#rate-limits)) and idempotent answers."""

    def _rate_limit(self, instance_id: str, operation: str, *, connect: bool = False) -> None:
        if not self.rate_limits_enabled:
            return
        limits = self.config.rate_limit_table.get(operation)
        if limits is None:
            return
        steady, burst = limits
        now = self.now()
        bucket = self._buckets.setdefault((instance_id, operation), RateBucket(float(burst), now))
        bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.last) * steady)
        bucket.last = now
        if bucket.tokens < 1.0 - 1e-6:  # float slack: epoch seconds are large numbers
            if connect:
                raise ApiError("LimitExceededException", "Rate exceeded")
            raise ApiError("ThrottlingException", "Rate exceeded")
        bucket.tokens -= 1.0

    def _idempotent(
        self,
        participant: Participant,
        operation: str,
        client_token: Any,
        make: Callable[[], JSON],
        body: Mapping[str, Any] | None = None,
    ) -> JSON:
        """Run ``make`` once per (participant, operation, ClientToken, rest of the body).

        The key holds the request's other fields too: chatjs sends every read receipt with
        the literal ClientToken ``INCOMING_READ_RECEIPT``, and the service delivers each."""
        if client_token is not None and not isinstance(client_token, str):
            raise validation_error("clientToken", client_token, "Member must be a string")
        if isinstance(client_token, str) and len(client_token) > 500:
            raise validation_error(
                "clientToken", client_token, "Member must have length less than or equal to 500"
            )
        if not client_token:
            return make()
        rest = {k: v for k, v in (body or {}).items() if k != "ClientToken"}
        fingerprint = json.dumps(rest, sort_keys=True, separators=(",", ":"))
        key = (participant.participant_id, operation, client_token + "\x00" + fingerprint)
        if key in self._idempotency:
            return json.loads(json.dumps(self._idempotency[key][1]))  # type: ignore[no-any-return]
        answer = make()
        expiry = self.now() + self.config.idempotency_ttl
        self._idempotency[key] = (expiry, json.loads(json.dumps(answer)))
        return answer
