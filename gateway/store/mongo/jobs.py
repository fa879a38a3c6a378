"""The job queue in MongoDB (`JobStore`): one document per job in its own collection, `jobs`.

The document is the job's fields (`_id` is its id), its fencing `token`, the claim's `worker`,
`due_us` (see `gateway.store.jobs`; absent once finished, and `expires_us` absent until then: a
missing field never matches a range) and `left`, the attempts it has left: a claim's filter needs
"attempts < max_attempts", and a field of its own keeps that a plain comparison.

A claim is one `find_one_and_update` per job: the filter matches only a due job and the update
moves it on (new lease, `token` + 1) in the same atomic step, so two workers can never take the same
job. Enqueueing is an upsert on the unique (organization, kind, key), so a second enqueue finds the
first job and changes nothing. Finished jobs carry `gone_at`: the TTL index drops them even if the
purge never runs. `insert_job` takes a session: inside a turn's transaction, the job commits or
aborts with the turn.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from gateway.store.jobs import (
    JOB_FIELDS,
    LEASE_EXPIRED,
    Backlog,
    Claim,
    Job,
    JobStatus,
    NewJob,
    RetryPolicy,
    after_failure,
    checked_result,
    claim_limit,
    error_text,
    lease_us,
    new_job,
)
from gateway.store.mongo.database import MongoDatabase
from gateway.store.mongo.docs import Doc, Session, dt, text, unavailable

COLLECTION = "jobs"
_TRIES = 3


def _job(doc: Doc) -> Job:
    return msgspec.convert({f: doc["_id"] if f == "id" else doc.get(f) for f in JOB_FIELDS}, Job)


def _held(job_id: str, token: int) -> Doc:
    return {"_id": text(job_id), "token": int(token), "status": "IN_PROGRESS"}


async def insert_job(jobs: AsyncCollection[Doc], job: NewJob, s: Session = None) -> str:
    """Enqueue (inside the caller's transaction when `s` is one): the job's id, or the id of the job
    its key already has."""
    key = {"org": text(job.org), "kind": text(job.kind), "key": text(job.key)}
    fresh = {
        "_id": job.id,
        "payload": job.payload,
        "status": "PENDING",
        "attempts": 0,
        "max_attempts": job.max_attempts,
        "left": job.max_attempts,
        "created_us": job.at_us,
        "updated_us": job.at_us,
        "result": None,
        "error": None,
        "token": 0,
        "worker": None,
        "due_us": job.at_us,
    }
    for attempt in range(_TRIES):
        try:
            doc = await jobs.find_one_and_update(
                key,
                {"$setOnInsert": fresh},
                upsert=True,
                projection={"_id": 1},
                return_document=ReturnDocument.AFTER,
                session=s,
            )
        except DuplicateKeyError:
            # Two upserts of one key raced; the loser finds the winner's job on the next try. In a
            # transaction the error has aborted it: the caller's transaction is what to retry.
            if s is not None or attempt + 1 == _TRIES:
                raise
            continue
        assert doc is not None  # an upsert returning the document after it always has one
        return str(doc["_id"])
    raise AssertionError("unreachable")


class MongoJobs:
    """`JobStore` over the `jobs` collection of the store's database (made in `open`)."""

    def __init__(self, db: MongoDatabase, policy: RetryPolicy | None = None) -> None:
        self._db = db
        self._policy = policy or RetryPolicy()

    @property
    def collection(self) -> AsyncCollection[Doc]:
        # The store's own database, whatever it is named: that of one of its collections.
        return self._db.threads.database[COLLECTION]

    @unavailable
    async def open(self) -> None:
        """The indexes that make the queue's rules hold in the database (idempotent); after the
        database is open."""
        jobs = self.collection
        await jobs.create_index([("org", ASCENDING), ("kind", ASCENDING), ("key", ASCENDING)], unique=True)
        await jobs.create_index([("due_us", ASCENDING)])
        await jobs.create_index("gone_at", expireAfterSeconds=0)

    @unavailable
    async def enqueue(
        self,
        org: str,
        kind: str,
        key: str,
        payload: bytes,
        *,
        at_us: int,
        max_attempts: int | None = None,
    ) -> str:
        job = new_job(org, kind, key, payload, at_us=at_us, policy=self._policy, max_attempts=max_attempts)
        return await insert_job(self.collection, job)

    @unavailable
    async def claim(
        self, worker: str, *, kinds: Sequence[str], lease_s: float, limit: int, at_us: int
    ) -> list[Claim]:
        n = claim_limit(limit)
        if not kinds or n == 0:
            return []
        jobs, until = self.collection, at_us + lease_us(lease_s)
        of_kinds = {"kind": {"$in": [text(k) for k in kinds]}}
        expires = at_us + self._policy.keep_us
        # Leases that ran out on the last attempt: the job is over (see `gateway.store.jobs`).
        await jobs.update_many(
            {"due_us": {"$lte": at_us}, "status": "IN_PROGRESS", "left": 0, **of_kinds},
            {
                "$set": {
                    "status": "FAILED",
                    "error": LEASE_EXPIRED,
                    "worker": None,
                    "updated_us": at_us,
                    "expires_us": expires,
                    "gone_at": dt(expires),
                },
                "$unset": {"due_us": ""},
            },
        )
        claims: list[Claim] = []
        for _ in range(n):
            doc = await jobs.find_one_and_update(
                {"due_us": {"$lte": at_us}, "left": {"$gt": 0}, **of_kinds},
                {
                    "$set": {
                        "status": "IN_PROGRESS",
                        "due_us": until,
                        "worker": text(worker),
                        "updated_us": at_us,
                    },
                    "$inc": {"attempts": 1, "left": -1, "token": 1},
                },
                sort=[("due_us", ASCENDING)],
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                break
            claims.append(Claim(job=_job(doc), token=int(doc["token"]), lease_until_us=until))
        return claims

    @unavailable
    async def renew(self, job_id: str, token: int, *, lease_s: float, at_us: int) -> bool:
        until = at_us + lease_us(lease_s)
        done = await self.collection.update_one(
            _held(job_id, token), {"$set": {"due_us": until, "updated_us": at_us}}
        )
        return done.matched_count == 1

    @unavailable
    async def complete(self, job_id: str, token: int, result: bytes, *, at_us: int) -> bool:
        expires = at_us + self._policy.keep_us
        done = await self.collection.update_one(
            _held(job_id, token),
            {
                "$set": {
                    "status": "COMPLETED",
                    "result": checked_result(result),
                    "worker": None,
                    "updated_us": at_us,
                    "expires_us": expires,
                    "gone_at": dt(expires),
                },
                "$unset": {"due_us": ""},
            },
        )
        return done.matched_count == 1

    @unavailable
    async def fail(
        self, job_id: str, token: int, error: str, *, at_us: int, final: bool = False
    ) -> JobStatus | None:
        jobs = self.collection
        doc = await jobs.find_one(_held(job_id, token), {"attempts": 1, "max_attempts": 1})
        if doc is None:
            return None
        step = after_failure(
            self._policy, attempts=doc["attempts"], max_attempts=doc["max_attempts"], final=final, at_us=at_us
        )
        fields: Doc = {"status": step.status, "error": error_text(error), "worker": None, "updated_us": at_us}
        if step.due_us is not None:  # retried
            update: Doc = {"$set": {**fields, "due_us": step.due_us}}
        else:
            assert step.expires_us is not None  # finished
            finished = {"expires_us": step.expires_us, "gone_at": dt(step.expires_us)}
            update = {"$set": {**fields, **finished}, "$unset": {"due_us": ""}}
        # The same fence as the read: a claim that lost the job in between writes nothing.
        done = await jobs.update_one(_held(job_id, token), update)
        return step.status if done.matched_count == 1 else None

    @unavailable
    async def release(self, job_id: str, token: int, *, at_us: int) -> bool:
        done = await self.collection.update_one(
            _held(job_id, token),
            {
                "$set": {"status": "PENDING", "due_us": at_us, "worker": None, "updated_us": at_us},
                "$inc": {"attempts": -1, "left": 1},
            },
        )
        return done.matched_count == 1

    @unavailable
    async def get(self, org: str, job_id: str) -> Job | None:
        doc = await self.collection.find_one({"_id": text(job_id), "org": text(org)})
        return None if doc is None else _job(doc)

    @unavailable
    async def backlog(self, kinds: Sequence[str]) -> dict[str, Backlog]:
        if not kinds:
            return {}
        # Unfinished jobs are those with a `due_us` (a finished one has none).
        cursor = await self.collection.aggregate(
            [
                {"$match": {"due_us": {"$exists": True}, "kind": {"$in": [text(k) for k in kinds]}}},
                {"$group": {"_id": "$kind", "count": {"$sum": 1}, "oldest": {"$min": "$created_us"}}},
            ]
        )
        return {
            str(doc["_id"]): Backlog(count=int(doc["count"]), oldest_us=int(doc["oldest"]))
            async for doc in cursor
        }

    @unavailable
    async def purge(self, at_us: int) -> int:
        done = await self.collection.delete_many({"expires_us": {"$lte": at_us}})
        return done.deleted_count
