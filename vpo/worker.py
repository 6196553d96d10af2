"""The daemon's worker thread: claims queued jobs one at a time and runs them to the end.

Job work happens here, never on the event loop. The worker claims in the store's order (priority,
then creation), runs the job with `vpo.runner.run_job`, and then sleeps on an event until a job is
queued: the store tells it after every commit of this process that leaves a job `queued` (a
submission, a requeue, a retry; `JobStore.add_queue_listener`), and `wake()` sets the same event.
An idle daemon's worker therefore does no periodic work at all; only while the disk is full does
it wake every `room_check_seconds` to look for room.

Shutdown (`stop`) first stops claiming, gives the running job a grace period to finish, then sets
the shutdown event, which makes the runner stop at the next file boundary and put the job back to
`queued`. Jobs orphaned by a process that died (kill -9, power loss) are recovered at start-up by
`recover_orphans`, which asks `vpo.owner.owner_is_alive` about each job's owner string.

A full disk: when the write that ends a job fails, the worker keeps the job (still `running`,
its runner being this live thread) and retries the write until it lands, while the store's
storage status says why, so `/health` answers degraded. No job is claimed while any storage
problem stands; meanwhile the worker checks for room every `room_check_seconds` and clears the
problem when there is some again, so the daemon recovers without a restart.
"""

from __future__ import annotations

import logging
import os
import threading

from vpo import storage
from vpo.joblog import JobLog
from vpo.jobs import QUEUED, Job
from vpo.owner import owner_is_alive, process_owner
from vpo.runner import SHUTDOWN_NOTE, JobEnd, JobEndNotRecorded, describe_failure, run_job
from vpo.store import JobNotFound, JobStore

log = logging.getLogger("vpo.worker")

# How often a worker held back by a full disk checks whether there is room again.
ROOM_CHECK_SECONDS = 1.0
MAX_ATTEMPTS = 3
# Retrying a job's end that did not land: soon at first, then every few seconds.
END_RETRY_FIRST_SECONDS = 0.5
END_RETRY_MAX_SECONDS = 5.0
# Job work runs at a lower CPU priority than the API: on a two-core NAS, two ffprobe processes
# would otherwise take every cycle and make each poll wait behind them.
JOB_NICENESS = 10


def note_in_job_log(store: JobStore, job_id: str, level: str, message: str) -> bool:
    """Append a line to a job's log from outside its run; False (said in the daemon log) when
    the disk refuses it: the job's state is in the store either way."""
    try:
        with JobLog(store.logs_dir, job_id) as job_log:
            job_log.write(level, message)
    except OSError as exc:
        log.warning("cannot write the log of job %s: %s", job_id, describe_failure(exc))
        return False
    return True


def recover_orphans(store: JobStore) -> list[tuple[Job, str]]:
    """Requeue (or fail, after MAX_ATTEMPTS, or cancel, when a cancel was answered) jobs left
    running by a process that is gone, and say so in the daemon log and in each job's log."""
    recovered = store.recover_orphans(owner_is_alive, MAX_ATTEMPTS)
    for job, outcome in recovered:
        if outcome == "requeued":
            log.warning(
                "job %s (%s %s) was left running by a process that is gone; requeued "
                "(%d of %d attempts used)",
                job.id,
                job.job_type,
                job.file_path,
                job.attempts,
                MAX_ATTEMPTS,
            )
            note_in_job_log(
                store,
                job.id,
                "WARN",
                f"Requeued after attempt {job.attempts} of {MAX_ATTEMPTS}: the process running "
                "the job stopped without ending it (a crash, or kill -9).",
            )
        elif outcome == "cancelled":
            log.warning(
                "job %s (%s %s) was cancelled, but the process running it stopped before it "
                "noticed; marked cancelled",
                job.id,
                job.job_type,
                job.file_path,
            )
            note_in_job_log(
                store,
                job.id,
                "WARN",
                "Job cancelled: the process running it stopped before it saw the cancel.",
            )
        else:
            log.error(
                "job %s (%s %s) was interrupted %d times; marked failed",
                job.id,
                job.job_type,
                job.file_path,
                job.attempts,
            )
            note_in_job_log(
                store,
                job.id,
                "ERROR",
                f"The process running the job stopped again; giving up after {job.attempts} "
                "attempts.",
            )
    return recovered


def lower_thread_priority(niceness: int) -> None:
    """Renice the calling thread only (Linux keeps nice per thread). Threads it starts later and
    processes they spawn (ffprobe) inherit the value; the event loop's thread keeps its own."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except OSError as exc:  # not permitted, or a platform without per-thread nice
        log.debug("could not lower the worker's priority: %s", exc)


# -- the thread ----------------------------------------------------------------------------


class Worker:
    """Runs queued jobs on one background thread, one job at a time."""

    def __init__(
        self,
        store: JobStore,
        *,
        probe_concurrency: int = 2,
        extensions: tuple[str, ...] | None = None,
        owner: str | None = None,
        room_check_seconds: float = ROOM_CHECK_SECONDS,
    ) -> None:
        self.store = store
        self.probe_concurrency = probe_concurrency
        self.extensions = extensions
        self.owner = owner or process_owner()
        self.room_check_seconds = room_check_seconds
        self._wake = threading.Event()
        # Times the idle wait ended (woken or timed out): tests prove an idle worker sleeps.
        self.wakeups = 0
        self._stopping = threading.Event()  # no new claims
        self._shutdown = threading.Event()  # the running job must stop and be requeued
        self._idle = threading.Event()  # no job is running
        self._idle.set()
        self._current: Job | None = None
        self._claim_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="vpo-worker", daemon=True)
        store.add_queue_listener(self.wake)

    @property
    def current_job_id(self) -> str | None:
        job = self._current
        return job.id if job else None

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """A job was queued (or the worker must stop): look at the queue now."""
        self._wake.set()

    def _claim(self) -> Job | None:
        """The next job, or None; under the lock `stop` takes, so a job is never claimed after
        `stop` saw the worker idle."""
        with self._claim_lock:
            if self._stopping.is_set():
                return None
            job = self.store.claim_next_job(self.owner)
            if job is not None:
                self._idle.clear()
                self._current = job
            return job

    def _run(self) -> None:
        lower_thread_priority(JOB_NICENESS)
        while not self._stopping.is_set():
            # Cleared before the claim: a job queued after the claim looked sets it again, so
            # the wait below returns at once instead of missing that job.
            self._wake.clear()
            if self._stopping.is_set():  # `stop` set the event before the clear above
                break
            # Sleep until woken, unless something must be tried again: room on a full disk, or
            # a claim that failed (a database busy past its timeout).
            retry = False
            try:
                job = self._claim() if self._storage_ready() else None
            except Exception:
                log.exception("claiming the next job failed; retrying")
                job, retry = None, True
            if job is None:
                retry = retry or self.store.storage.degraded
                self._wake.wait(self.room_check_seconds if retry else None)
                self.wakeups += 1
                continue
            self._run_one(job)

    def _storage_ready(self) -> bool:
        """No storage problem, or one that a check for room now finds gone. A job started on a
        full disk could only fail, and its end might not be recorded either."""
        status = self.store.storage
        if not status.degraded:
            return True
        try:
            self.store.check_room()
        except Exception as exc:
            log.debug("still no room for new jobs: %s", describe_failure(exc))
            return False
        if status.degraded:  # another writer found a new problem meanwhile
            return False
        log.info("the data dir can be written again; taking jobs")
        return True

    def _run_one(self, job: Job) -> None:
        log.info(
            "job %s started: %s %s (attempt %d)", job.id, job.job_type, job.file_path, job.attempts
        )
        try:
            final = run_job(
                self.store,
                job,
                probe_concurrency=self.probe_concurrency,
                extensions=self.extensions,
                shutdown_event=self._shutdown,
            )
            log.info("job %s ended: %s", job.id, final.status)
        except JobEndNotRecorded as not_recorded:
            self._record_end(not_recorded.end, not_recorded.cause)
        except Exception:
            # run_job ends jobs itself; reaching here means the store failed under it.
            log.exception("job %s: the runner failed", job.id)
        finally:
            self._current = None
            self._idle.set()

    def _record_end(self, end: JobEnd, cause: BaseException) -> None:
        """Retry writing a job's end until it lands; the job stays `running` meanwhile, which
        is true: its runner, this thread, is alive and busy with it. Gives up only when the
        daemon stops: the job is then an orphan, requeued (or cancelled) at the next start.
        """
        status = self.store.storage
        if storage.is_out_of_space(cause):
            why = "until the disk has room"
        else:
            why = f"after: {describe_failure(cause, data_dir=self.store.data_dir)}"
        reason = f"job {end.job_id} ended {end.status}; recording that is retried {why}"
        status.report(storage.JOB_END, reason)
        log.error("%s", reason)
        delay = END_RETRY_FIRST_SECONDS
        try:
            while not self._shutdown.wait(delay):
                try:
                    final = end.record(self.store)
                except JobNotFound:
                    log.warning("job %s was deleted before its end could be recorded", end.job_id)
                    return
                except Exception as exc:
                    log.debug("job %s: recording its end failed again: %s", end.job_id, exc)
                    delay = min(delay * 2, END_RETRY_MAX_SECONDS)
                    continue
                log.info("job %s ended: %s (recorded after a retry)", end.job_id, final.status)
                note_in_job_log(
                    self.store,
                    end.job_id,
                    "WARN",
                    f"The job's end ({final.status}) was recorded once the data dir could be "
                    "written again.",
                )
                return
            log.warning("job %s: stopping before its end could be recorded", end.job_id)
        finally:
            status.clear(storage.JOB_END)

    def stop(self, grace: float) -> None:
        """Stop taking jobs; let the running job finish within `grace` seconds, else requeue it.

        Returns when the thread has ended or, if the runner does not stop in time either (a file
        operation that does not return), after requeueing the job from here so it is never left
        `running`; the thread is a daemon thread and dies with the process.
        """
        with self._claim_lock:
            self._stopping.set()
        self._wake.set()
        if self._idle.wait(grace):
            self._thread.join(timeout=1.0)
            return
        job = self._current
        log.info(
            "job %s still running after %.0f s grace; stopping and requeueing it",
            job.id if job else "?",
            grace,
        )
        self._shutdown.set()
        self._thread.join(timeout=3.0)
        if self._thread.is_alive() and job is not None:
            log.warning("job %s did not stop in time; requeueing it", job.id)
            try:
                requeued = self.store.requeue_job(job.id)
            except Exception as exc:
                log.error("requeueing job %s failed: %s", job.id, describe_failure(exc))
                return
            note = SHUTDOWN_NOTE if requeued.status == QUEUED else "Job cancelled."
            note_in_job_log(self.store, job.id, "WARN", note)

    def is_alive(self) -> bool:
        return self._thread.is_alive()
