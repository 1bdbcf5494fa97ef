package reporter

import (
	"context"
	"time"
)

// JobResult is how one run of a job (a feed's ingest, the report pass)
// ended.
type JobResult string

const (
	JobDone        JobResult = "done"        // it did work: a file read, a mail sent
	JobIdle        JobResult = "idle"        // there was nothing to do
	JobPartial     JobResult = "partial"     // done in part: a file failed or a mail was not sent; the next run tries again
	JobFailed      JobResult = "failed"      // it failed; the error says why
	JobInterrupted JobResult = "interrupted" // a stop cut it short; the next run resumes it
)

// Succeeded reports whether the run counts as a success: it did its work
// or there was none to do.
func (r JobResult) Succeeded() bool { return r == JobDone || r == JobIdle }

// JobRun is one run of a job, recorded so that another process
// (`autoreporter status`) can show it.
type JobRun struct {
	Job     string // "feed shadowserver", "report"
	Started time.Time
	Took    time.Duration
	Result  JobResult
	Error   string // empty unless the run failed or was cut short
	By      string // the instance that ran it: "daemon host/pid/…", "cli host/pid/…"
	// Schedule is the schedule the daemon that ran the job read, and Next
	// when it means to run it again (sooner than the schedule when the
	// job asked: a spool file settling, a mail due again). A run from the
	// command line has neither, and leaves the ones recorded as they were.
	Schedule string
	Next     time.Time
}

// JobState is what is remembered of a job: its last run, and a little of
// the ones before.
type JobState struct {
	Last JobRun
	// LastSuccess is when the last run that succeeded (JobResult.Succeeded)
	// started; zero when none has.
	LastSuccess time.Time
	Runs        int // every run recorded
	Failures    int // runs in a row, up to the last, that did not succeed
}

// JobLog keeps the runs of the scheduled jobs. Several instances and the
// command line record into one store; each run is recorded whole, in one
// statement, so counts never lose a run to a race.
type JobLog interface {
	// RecordJob records a run of a job.
	RecordJob(ctx context.Context, run JobRun) error
	// JobStates returns what is remembered of every job ever recorded,
	// by name.
	JobStates(ctx context.Context) ([]JobState, error)
}
