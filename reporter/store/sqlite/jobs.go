package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
)

// RecordJob implements reporter.JobLog, in one statement: the counts are
// updated from the row as it is, so two processes recording at once lose
// neither run. A run without a schedule (from the command line) keeps the
// daemon's next run as it was.
func (s *Store) RecordJob(ctx context.Context, r reporter.JobRun) error {
	ok := 0
	if r.Result.Succeeded() {
		ok = 1
	}
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO job_state (job, started, took, result, error, ran_by, schedule, next_run, last_success, runs, failures)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $9 = 1 THEN $2 ELSE 0 END, 1, 1 - $9)
		ON CONFLICT (job) DO UPDATE SET started = excluded.started, took = excluded.took, result = excluded.result,
			error = excluded.error, ran_by = excluded.ran_by,
			schedule = CASE WHEN excluded.schedule <> '' THEN excluded.schedule ELSE job_state.schedule END,
			next_run = CASE WHEN excluded.schedule <> '' THEN excluded.next_run ELSE job_state.next_run END,
			last_success = CASE WHEN $9 = 1 THEN excluded.started ELSE job_state.last_success END,
			runs = job_state.runs + 1,
			failures = CASE WHEN $9 = 1 THEN 0 ELSE job_state.failures + 1 END`,
		r.Job, us(r.Started), int64(r.Took), string(r.Result), r.Error, r.By, r.Schedule, us(r.Next), ok)
	if err != nil {
		return fmt.Errorf("record run of %s: %w", r.Job, err)
	}
	return nil
}

// JobStates implements reporter.JobLog.
func (s *Store) JobStates(ctx context.Context) ([]reporter.JobState, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT job, started, took, result, error, ran_by, schedule, next_run, last_success, runs, failures
		FROM job_state ORDER BY job`)
	if err != nil {
		return nil, fmt.Errorf("job states: %w", err)
	}
	defer rows.Close()
	var out []reporter.JobState
	for rows.Next() {
		var (
			j                            reporter.JobState
			result                       string
			started, took, next, success int64
		)
		if err := rows.Scan(&j.Last.Job, &started, &took, &result, &j.Last.Error, &j.Last.By, &j.Last.Schedule,
			&next, &success, &j.Runs, &j.Failures); err != nil {
			return nil, fmt.Errorf("job states: %w", err)
		}
		j.Last.Started, j.Last.Took, j.Last.Result = fromUS(started), time.Duration(took), reporter.JobResult(result)
		j.Last.Next, j.LastSuccess = fromUS(next), fromUS(success)
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("job states: %w", err)
	}
	return out, nil
}
