"""Attachments: StartAttachmentUpload and its presigned PUT, CompleteAttachmentUpload and the
scan, GetAttachment and its signed download URL."""

from __future__ import annotations

import hashlib
import hmac
import json
import posixpath
import urllib.parse
from collections.abc import Mapping
from typing import Any

from participant.emulator._wire import new_id, new_secret
from participant.emulator.service.admission import Admission
from participant.emulator.service.names import JSON
from participant.emulator.service.records import Attachment, Contact, Participant
from participant.emulator.service.timers import ChatTimers
from participant.emulator.service.validation import ApiError, check_content, validation_error


class Attachments(ChatTimers, Admission):
    """Attachment upload, scanning and download."""

    def _op_StartAttachmentUpload(
        self, contact: Contact, participant: Participant, body: Mapping[str, Any], base_url: str
    ) -> JSON:
        content_type = body.get("ContentType")
        check_content("contentType", content_type, 255, True)
        name = body.get("AttachmentName")
        check_content("attachmentName", name, 256, True)
        size = body.get("AttachmentSizeInBytes")
        if size is None:
            raise validation_error("attachmentSizeInBytes", None, "Member must not be null")
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise validation_error(
                "attachmentSizeInBytes", size, "Member must have value greater than or equal to 1"
            )
        client_token = body.get("ClientToken")
        check_content("clientToken", client_token, 500, True)
        assert isinstance(name, str) and isinstance(content_type, str)
        if size > self.config.max_attachment_bytes:
            raise ApiError(
                "ServiceQuotaExceededException",
                f"Attachment size exceeds {self.config.max_attachment_bytes} bytes",
            )
        extension = posixpath.splitext(name.lower())[1]
        if extension not in self.config.attachment_extensions:
            raise validation_error(
                "attachmentName", name, f"File type {extension or '(none)'} is not supported"
            )

        def make() -> JSON:
            if len(contact.attachments) >= self.config.max_attachments_per_chat:
                raise ApiError(
                    "ServiceQuotaExceededException",
                    f"At most {self.config.max_attachments_per_chat} attachments per chat",
                )
            attachment_id = new_id()
            quoted = urllib.parse.quote(name)
            headers = {
                "Content-Type": content_type,
                "Content-Length": str(size),
                "Content-Disposition": f"attachment; filename*=UTF-8''{quoted}",
                "x-amz-meta-contact_id": contact.contact_id,
                "x-amz-acl": "bucket-owner-full-control",
            }
            expiry = self.now() + self.config.upload_url_ttl
            attachment = Attachment(
                attachment_id=attachment_id,
                contact_id=contact.contact_id,
                participant_id=participant.participant_id,
                name=name,
                content_type=content_type,
                size=size,
                upload_expiry=expiry,
                headers_to_include=headers,
                upload_signature=new_secret(24),
            )
            contact.attachments[attachment_id] = attachment
            self._attachments[attachment_id] = attachment
            url = (
                f"{base_url.rstrip('/')}/emulator-storage/{attachment_id}?"
                + urllib.parse.urlencode(
                    {
                        "X-Amz-Expires": int(self.config.upload_url_ttl),
                        "X-Amz-Signature": attachment.upload_signature,
                    }
                )
            )
            return {
                "AttachmentId": attachment_id,
                "UploadMetadata": {
                    "Url": url,
                    "UrlExpiry": self.timestamp(expiry),
                    "HeadersToInclude": dict(headers),
                },
            }

        return self._idempotent(participant, "StartAttachmentUpload", client_token, make, body)

    def upload(
        self, attachment_id: str, signature: str | None, headers: Mapping[str, str], data: bytes
    ) -> None:
        """The presigned PUT. Raises ApiError('SignatureDoesNotMatch'/'AccessDenied', 403)."""
        attachment = self._attachments.get(attachment_id)
        if attachment is None or signature != attachment.upload_signature:
            raise ApiError("SignatureDoesNotMatch", "The request signature does not match", 403)
        if self.now() > attachment.upload_expiry:
            raise ApiError("AccessDenied", "Request has expired", 403)
        lowered = {k.lower(): v for k, v in headers.items()}
        for name, value in attachment.headers_to_include.items():
            if lowered.get(name.lower()) != value:
                raise ApiError(
                    "SignatureDoesNotMatch",
                    f"The request signature we calculated does not match: header {name}",
                    403,
                )
        if len(data) != attachment.size:
            raise ApiError(
                "SignatureDoesNotMatch", "Body length differs from the declared size", 403
            )
        attachment.data = data

    def _op_CompleteAttachmentUpload(
        self, contact: Contact, participant: Participant, body: Mapping[str, Any], base_url: str
    ) -> JSON:
        ids = body.get("AttachmentIds")
        if not isinstance(ids, list) or len(ids) != 1:
            raise validation_error(
                "attachmentIds", ids, "Member must have length less than or equal to 1 and >= 1"
            )
        client_token = body.get("ClientToken")
        check_content("clientToken", client_token, 500, True)
        attachment = contact.attachments.get(str(ids[0]))
        if attachment is None or attachment.participant_id != participant.participant_id:
            raise validation_error("attachmentIds", ids, "Unknown attachment")

        def make() -> JSON:
            if attachment.completed:
                raise ApiError("ConflictException", "Attachment upload already completed")
            if attachment.data is None:
                raise ApiError("ConflictException", "The attachment was not uploaded")
            attachment.completed = True
            self._note_activity(contact, participant)
            scan = self.config.attachment_scan_delay
            attachment.status = "APPROVED" if scan is None else "IN_PROGRESS"
            self._emit_attachment(contact, participant, attachment)
            if scan is not None:
                verdict = self.config.attachment_scan_verdict

                def decide() -> None:
                    if attachment.status != "IN_PROGRESS":
                        return
                    attachment.status = verdict
                    if not contact.ended:
                        self._emit_attachment(contact, participant, attachment)

                if self.nursery is None:
                    decide()
                else:
                    self._spawn_at(self.now() + scan, decide)
            return {}

        return self._idempotent(participant, "CompleteAttachmentUpload", client_token, make, body)

    def _emit_attachment(
        self, contact: Contact, participant: Participant, attachment: Attachment
    ) -> None:
        """Emit the attachment's ATTACHMENT item with its current Status: the first time a
        new item, then the same Id again (same AbsoluteTime) replacing the stored one."""
        item = self._new_item(
            contact,
            participant,
            type="ATTACHMENT",
            content_type=attachment.content_type,
            extra={
                "Attachments": [
                    {
                        "AttachmentId": attachment.attachment_id,
                        "AttachmentName": attachment.name,
                        "ContentType": attachment.content_type,
                        "Status": attachment.status,
                    }
                ]
            },
        )
        if attachment.item_id is None:
            attachment.item_id = item["Id"]
            attachment.absolute_time = item["AbsoluteTime"]
        else:
            item["Id"] = attachment.item_id
            item["AbsoluteTime"] = attachment.absolute_time
        self.emit(contact, item)

    def set_attachment_status(self, attachment_id: str, status: str) -> JSON:
        """Give a completed attachment a scan verdict now (APPROVED or REJECTED): emits the
        ATTACHMENT item again under its Id. Raises ApiError ResourceNotFoundException
        (unknown or not completed), ValidationException (bad status), AccessDenied (ended)."""
        if status not in ("APPROVED", "REJECTED"):
            raise ApiError(
                "ValidationException", f"Status must be APPROVED or REJECTED, got {status!r}"
            )
        attachment = self._attachments.get(attachment_id)
        if attachment is None or not attachment.completed:
            raise ApiError("ResourceNotFoundException", "Attachment not found")
        contact = self.ongoing_contact(attachment.contact_id)
        attachment.status = status
        self._emit_attachment(contact, self.participant(attachment.participant_id), attachment)
        entry = contact.by_id[str(attachment.item_id)]
        return json.loads(json.dumps(entry.wire))  # type: ignore[no-any-return]

    def _op_GetAttachment(
        self, contact: Contact, participant: Participant, body: Mapping[str, Any], base_url: str
    ) -> JSON:
        if participant.role == "CUSTOM_BOT":
            raise ApiError(
                "AccessDeniedException", "CUSTOM_BOT participants may not get attachments"
            )
        attachment_id = body.get("AttachmentId")
        check_content("attachmentId", attachment_id, 256, True)
        expiry_s = body.get("UrlExpiryInSeconds", self.config.default_attachment_url_expiry)
        if not isinstance(expiry_s, int) or not 5 <= expiry_s <= 300:
            raise validation_error(
                "urlExpiryInSeconds", expiry_s, "Member must have value between 5 and 300"
            )
        disposition = body.get("UrlContentDisposition")
        if disposition is not None and disposition not in ("INLINE", "ATTACHMENT"):
            raise validation_error(
                "urlContentDisposition", disposition, "Member must be INLINE or ATTACHMENT"
            )
        chain = [contact.contact_id, *contact.past_contact_ids]
        attachment = self._attachments.get(str(attachment_id))
        if attachment is None or attachment.contact_id not in chain or not attachment.completed:
            raise validation_error("attachmentId", attachment_id, "Unknown attachment")
        if attachment.status != "APPROVED":
            raise validation_error("attachmentId", attachment_id, "Attachment is not approved")
        expires = self.now() + expiry_s
        query = {"X-Amz-Expires": str(expiry_s), "Expires": repr(expires)}
        if disposition is not None:
            query["response-content-disposition"] = disposition.lower()
        query["X-Amz-Signature"] = self._sign_download(attachment.attachment_id, query)
        url = (
            f"{base_url.rstrip('/')}/emulator-storage/{attachment.attachment_id}?"
            + urllib.parse.urlencode(query)
        )
        return {
            "Url": url,
            "UrlExpiry": self.timestamp(expires),
            "AttachmentSizeInBytes": attachment.size,
        }

    def _sign_download(self, attachment_id: str, query: Mapping[str, str]) -> str:
        """HMAC-SHA256 (this emulator's key) over the method, the storage path and every
        signed query parameter (expiry, content disposition), as presigned URLs are."""
        canonical = "\n".join(
            [
                "GET",
                f"/emulator-storage/{attachment_id}",
                *(f"{k}={query[k]}" for k in sorted(query) if k != "X-Amz-Signature"),
            ]
        )
        return hmac.new(self._url_key, canonical.encode("utf-8"), hashlib.sha256).hexdigest()

    def download(
        self, attachment_id: str, query: Mapping[str, list[str]]
    ) -> tuple[Attachment, bytes]:
        """The presigned GET of a GetAttachment URL. ``query``: its parsed query string.

        Raises ApiError 403: SignatureDoesNotMatch (an edited, unsigned or foreign URL: the
        signature covers the path, ``Expires``, ``X-Amz-Expires`` and
        ``response-content-disposition``), AccessDenied (expired, or the attachment is
        unknown or not APPROVED)."""
        if any(len(values) != 1 for values in query.values()):
            raise ApiError("SignatureDoesNotMatch", "A query parameter is repeated", 403)
        flat = {k: v[0] for k, v in query.items()}
        given = flat.get("X-Amz-Signature", "")
        expected = self._sign_download(attachment_id, flat)
        if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("ascii")):
            raise ApiError(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided",
                403,
            )
        try:
            deadline = float(flat.get("Expires") or "")
        except ValueError:
            raise ApiError("AccessDenied", "Access Denied", 403) from None
        if self.now() > deadline:
            raise ApiError("AccessDenied", "Request has expired", 403)
        attachment = self._attachments.get(attachment_id)
        if (
            attachment is None
            or attachment.data is None
            or not attachment.completed
            or attachment.status != "APPROVED"
        ):
            raise ApiError("AccessDenied", "Access Denied", 403)
        return attachment, attachment.data
