"""A turn's body in any of the forms Backboard's clients send it (SPEC §13): JSON (`send_message`),
`application/x-www-form-urlencoded` (`add_message` without files, and older SDKs on
`/threads/{id}/messages`) or `multipart/form-data` (`add_message` with files). All three become the
same `BackboardMessageBody`: JSON strictly; form fields, which are text, with msgspec's lax conversion
(`"true"` is a boolean there), and the fields the SDK sends as JSON text decoded first.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Request
from litestar.datastructures import UploadFile

from gateway.doors.backboard.schemas import BackboardMessageBody
from gateway.errors import ValidationFailed
from gateway.http.body import UNREADABLE, strict_decode

JSON_BODY = msgspec.json.Decoder(BackboardMessageBody)
# Fields `add_message` sends as JSON text in a form.
_JSON_TEXT = frozenset(
    {"metadata", "image_config", "video_config", "voice", "system_one", "thinking", "openrouter", "tools"}
)
_FORMS = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
# More fields than Backboard's API has is not a turn.
_MAX_FIELDS = 100
_UNREADABLE_FORM: tuple[type[Exception], ...] = (*UNREADABLE, LookupError)


async def read_message_body(request: Request[Any, Any, Any]) -> BackboardMessageBody:
    """The turn of a request, whichever of JSON, form or multipart it came as; 422 otherwise."""
    media = request.content_type[0].lower()
    if media in _FORMS:
        return await _from_form(request)
    if media in ("application/json", ""):
        return strict_decode(JSON_BODY, await request.body())  # type: ignore[no-any-return]
    raise ValidationFailed(
        "The body must be JSON, a form (application/x-www-form-urlencoded) or multipart/form-data.",
        details={"content_type": media[:128]},
    )


async def _form_fields(request: Request[Any, Any, Any]) -> tuple[list[tuple[str, Any]], list[UploadFile]]:
    """The fields of a form body in order, and its uploads (to close)."""
    if request.content_type[0].lower() == "application/x-www-form-urlencoded":
        # Decoded here, strictly: the framework's decoding replaces bytes that are not UTF-8.
        try:
            text = (await request.body()).decode("utf-8")
            return parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=_MAX_FIELDS), []
        except UNREADABLE:
            raise ValidationFailed("The form body is not valid UTF-8 form data.") from None
    try:
        form = await request.form()
    except _UNREADABLE_FORM:
        # A part in an unknown charset or bytes that are not in its charset (a malformed multipart
        # body is the framework's 400, rendered by the door as any other error).
        raise ValidationFailed("The form body could not be read.") from None
    items = list(form.multi_items())
    return items, [v for _, v in items if isinstance(v, UploadFile)]


async def _from_form(request: Request[Any, Any, Any]) -> BackboardMessageBody:
    items, uploads = await _form_fields(request)
    fields: dict[str, Any] = {}
    try:
        for name, value in items:
            if name in fields:
                raise ValidationFailed(
                    f"The form field `{name[:64]}` is given more than once.", details={"field": name[:64]}
                )
            if isinstance(value, UploadFile):
                fields[name] = value.filename or "upload"
            else:
                fields[name] = _json_text(value) if name in _JSON_TEXT else value
    finally:
        for upload in uploads:
            await upload.close()
    try:
        return msgspec.convert(fields, BackboardMessageBody, strict=False)
    except msgspec.ValidationError as exc:
        raise ValidationFailed("The request body is not valid.", details={"reason": str(exc)}) from None


def _json_text(value: str) -> Any:
    """A form field that carries JSON: its value (the text itself when it is not JSON)."""
    try:
        return msgspec.json.decode(value)
    except UNREADABLE:
        return value
