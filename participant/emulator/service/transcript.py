"""GetTranscript: start positions, paging by sequence number (bisection), NextToken cursors."""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Mapping
from typing import Any

from participant.emulator._wire import new_secret, parse_timestamp
from participant.emulator.service.names import JSON
from participant.emulator.service.records import Contact, Entry, Participant, TranscriptCursor
from participant.emulator.service.state import ServiceState
from participant.emulator.service.validation import validation_error


def _seq_of(entry: Entry) -> float:
    return entry.seq


class Transcript(ServiceState):
    """GetTranscript."""

    def _op_GetTranscript(
        self, contact: Contact, participant: Participant, body: Mapping[str, Any], base_url: str
    ) -> JSON:
        max_results = body.get("MaxResults", 10)
        if not isinstance(max_results, int) or isinstance(max_results, bool):
            raise validation_error("maxResults", max_results, "Member must be an integer")
        if not 0 <= max_results <= 100:
            raise validation_error(
                "maxResults", max_results, "Member must have value between 0 and 100"
            )
        if max_results == 0:
            max_results = 10
        contact_filter = body.get("ContactId")
        if contact_filter is not None:
            if contact_filter != contact.contact_id and contact_filter not in (
                contact.past_contact_ids
            ):
                raise validation_error(
                    "contactId", contact_filter, "ContactId is not in this contact chain"
                )
        sort_order = body.get("SortOrder", "DESCENDING")
        if sort_order not in ("ASCENDING", "DESCENDING"):
            raise validation_error(
                "sortOrder",
                sort_order,
                "Member must satisfy enum value set: [DESCENDING, ASCENDING]",
            )
        scan = body.get("ScanDirection")
        if scan is not None and scan not in ("FORWARD", "BACKWARD"):
            raise validation_error(
                "scanDirection", scan, "Member must satisfy enum value set: [FORWARD, BACKWARD]"
            )
        next_token = body.get("NextToken")
        own = (
            self.contacts[contact_filter]
            if isinstance(contact_filter, str) and contact_filter != contact.contact_id
            else contact
        )
        past_ids = [] if own is not contact else list(contact.past_contact_ids)
        if next_token is not None and next_token != "":
            cursor = self._cursors.get(str(next_token))
            if cursor is None or cursor.participant_id != participant.participant_id:
                raise validation_error("nextToken", next_token, "Invalid NextToken")
            if self.now() > cursor.expires:
                raise validation_error("nextToken", next_token, "NextToken has expired")
            return self._transcript_page(
                contact,
                own,
                past_ids,
                cursor.scan_direction,
                str(sort_order),
                max_results,
                after_seq=cursor.last_seq,
                participant=participant,
            )
        start = body.get("StartPosition")
        if isinstance(start, Mapping) and all(
            start.get(k) is None for k in ("Id", "AbsoluteTime", "MostRecent")
        ):
            # chatjs's default getTranscript() sends StartPosition {} (its SDK client keeps
            # the structure without members); the service takes that as no StartPosition.
            start = None
        if scan is None:
            scan = "FORWARD" if start is not None else "BACKWARD"
        if start is None:
            if scan == "FORWARD":
                raise validation_error(
                    "scanDirection", "FORWARD", "FORWARD requires a StartPosition"
                )
            return self._transcript_page(
                contact,
                own,
                past_ids,
                "BACKWARD",
                str(sort_order),
                max_results,
                participant=participant,
            )
        if not isinstance(start, Mapping):
            raise validation_error("startPosition", start, "Member must be a structure")
        given = [k for k in ("Id", "AbsoluteTime", "MostRecent") if start.get(k) is not None]
        if len(given) != 1:
            raise validation_error(
                "startPosition", start, "Exactly one of Id, AbsoluteTime, MostRecent is required"
            )
        own_entries = own.entries
        anchor: int  # seq of the start item (inclusive); may be a sentinel
        if "Id" in given:
            found = own.by_id.get(str(start["Id"]))
            if found is None:
                raise validation_error("startPosition.id", start["Id"], "No item with this Id")
            anchor = found.seq
        elif "AbsoluteTime" in given:
            try:
                moment = parse_timestamp(str(start["AbsoluteTime"]))
            except ValueError:
                raise validation_error(
                    "startPosition.absoluteTime",
                    start["AbsoluteTime"],
                    "Must be an ISO-8601 timestamp",
                ) from None
            times = [(e.seq, parse_timestamp(e.wire["AbsoluteTime"])) for e in own_entries]
            if scan == "FORWARD":
                later = [s for s, t in times if t >= moment - 0.0005]
                anchor = later[0] if later else math.inf  # type: ignore[assignment]
            else:
                earlier = [s for s, t in times if t <= moment + 0.0005]
                anchor = earlier[-1] if earlier else -1
        else:
            most_recent = start["MostRecent"]
            if not isinstance(most_recent, int) or not 0 <= most_recent <= 100:
                raise validation_error(
                    "startPosition.mostRecent",
                    most_recent,
                    "Member must have value between 0 and 100",
                )
            if not own_entries:
                anchor = -1 if scan == "BACKWARD" else math.inf  # type: ignore[assignment]
            else:
                index = max(0, len(own_entries) - 1 - most_recent)
                anchor = own_entries[index].seq
        after = anchor - 1 if scan == "FORWARD" else anchor + 1
        return self._transcript_page(
            contact,
            own,
            past_ids,
            str(scan),
            str(sort_order),
            max_results,
            after_seq=after,
            participant=participant,
            past_in_scope=False,
        )

    def _transcript_page_entries(
        self,
        own: Contact,
        past_ids: list[str],
        scan: str,
        after_seq: float | None,
        count: int,
    ) -> list[tuple[Entry, str | None]]:
        """Up to ``count`` (entry, RelatedContactId) in scan order after ``after_seq``
        (exclusive), found by bisection: O(log n + count), not a scan of the transcript.

        Past contacts ended before the next one of the chain started, so the chain's
        entries (past contacts oldest first, then ``own``) are in ``seq`` order."""
        segments: list[tuple[list[Entry], str | None]] = [
            (self.contacts[past_id].entries, past_id) for past_id in past_ids
        ]
        segments.append((own.entries, None))
        result: list[tuple[Entry, str | None]] = []
        if scan == "FORWARD":
            lo = -math.inf if after_seq is None else after_seq
            for entries, related in segments:
                index = bisect.bisect_right(entries, lo, key=_seq_of)
                while index < len(entries) and len(result) < count:
                    result.append((entries[index], related))
                    index += 1
                if len(result) >= count:
                    break
        else:
            hi = math.inf if after_seq is None else after_seq
            for entries, related in reversed(segments):
                index = bisect.bisect_left(entries, hi, key=_seq_of) - 1
                while index >= 0 and len(result) < count:
                    result.append((entries[index], related))
                    index -= 1
                if len(result) >= count:
                    break
        return result

    def _transcript_page(
        self,
        contact: Contact,
        own: Contact,
        past_ids: list[str],
        scan: str,
        sort_order: str,
        max_results: int,
        *,
        participant: Participant,
        after_seq: float | None = None,
        past_in_scope: bool = True,
    ) -> JSON:
        found = self._transcript_page_entries(own, past_ids, scan, after_seq, max_results + 1)
        page = found[:max_results]
        more = len(found) > max_results
        items: list[JSON] = []
        for entry, related in page:
            wire = json.loads(json.dumps(entry.wire))
            if related is not None:
                wire["RelatedContactId"] = related
            items.append(wire)
        ordered = sorted(
            zip(page, items, strict=True),
            key=lambda pair: pair[0][0].seq,
            reverse=sort_order == "DESCENDING",
        )
        answer: JSON = {
            "InitialContactId": contact.initial_contact_id,
            "Transcript": [wire for _, wire in ordered],
        }
        if more:
            token = new_secret(24)
            self._cursors[token] = TranscriptCursor(
                contact_id=contact.contact_id,
                participant_id=participant.participant_id,
                scan_direction=scan,
                sort_order=sort_order,
                last_seq=page[-1][0].seq,
                include_contact=frozenset(past_ids),
                expires=self.now() + self.config.transcript_cursor_ttl,
            )
            answer["NextToken"] = token
        elif self.config.last_page_next_token is not None:
            answer["NextToken"] = self.config.last_page_next_token
        return answer
