"""Idempotency keys in MongoDB: one document per (organization, key) in `idempotency`; the answer
kept as msgpack; TTL on `gone_at` as a second line behind the purge."""

from __future__ import annotations

from pymongo.errors import DuplicateKeyError

from gateway.errors import StoreUnavailable
from gateway.store.codec import decode_response, encode_response
from gateway.store.lifecycle import IdemRecord, idem_standing, next_token
from gateway.store.mongo.database import MongoDatabase
from gateway.store.mongo.docs import Doc, Session, backoff, dt, text, unavailable
from gateway.store.protocols import IdemClaim, IdemClaimed, IdemDone

_ATTEMPTS = 50


def _key(org: str, key: str) -> Doc:
    return {"org": text(org), "key": text(key)}


def _record(doc: Doc | None) -> IdemRecord | None:
    if doc is None:
        return None
    answer = doc.get("answer")
    return IdemRecord(
        fingerprint=doc["fingerprint"],
        token=doc["token"],
        held_until_us=doc["held_until_us"],
        answer=None if answer is None else decode_response(answer),
        expires_us=doc["expires_us"],
    )


async def finish(db: MongoDatabase, done: IdemDone, s: Session = None) -> None:
    """Keep the key's answer (with the turn's writes; in its transaction when there is one)."""
    claim = done.claim
    await db.idempotency.update_one(
        {**_key(claim.org, claim.key), "token": claim.token},
        {
            "$set": {
                "answer": encode_response(done.response),
                "expires_us": done.expires_us,
                "gone_at": dt(done.expires_us),
            }
        },
        session=s,
    )


async def release(db: MongoDatabase, claim: IdemClaimed, s: Session = None) -> None:
    await db.idempotency.delete_one(
        {**_key(claim.org, claim.key), "token": claim.token, "answer": None}, session=s
    )


class MongoIdempotency:
    """`IdempotencyStore` over the `idempotency` collection."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    @unavailable
    async def claim(self, org: str, key: str, fingerprint: str, *, at_us: int, hold_us: int) -> IdemClaim:
        for attempt in range(_ATTEMPTS):
            doc = await self._db.idempotency.find_one(_key(org, key))
            record = _record(doc)
            standing = idem_standing(record, fingerprint, at_us)
            if standing is not None:
                return standing
            token = next_token(record)
            fresh = {
                **_key(org, key),
                "fingerprint": fingerprint,
                "token": token,
                "held_until_us": at_us + hold_us,
                "answer": None,
                "expires_us": at_us + hold_us,
                "gone_at": dt(at_us + hold_us),
            }
            if doc is None:
                try:
                    await self._db.idempotency.insert_one(fresh)
                except DuplicateKeyError:
                    await backoff(attempt)
                    continue
                return IdemClaimed(org=org, key=key, token=token)
            done = await self._db.idempotency.replace_one({**_key(org, key), "token": doc["token"]}, fresh)
            if done.matched_count:
                return IdemClaimed(org=org, key=key, token=token)
            await backoff(attempt)
        raise StoreUnavailable("The store is too busy; try again.")

    @unavailable
    async def release(self, claim: IdemClaimed) -> None:
        await release(self._db, claim)
