package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
)

// RecordJob implements reporter.JobLog, in one statement: the counts are
// updated from the row as it is, so two instances recording at once lose
// neither run. A run without a schedule (from the command line) keeps the
// daemon's next run as it was.
func (s *Store) RecordJob(ctx context.Context, r reporter.JobRun) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO job_state (job, started, took, result, error, ran_by, schedule, next_run, last_success, runs, failures)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $9 THEN $2::timestamptz END, 1, CASE WHEN $9 THEN 0 ELSE 1 END)
		ON CONFLICT (job) DO UPDATE SET started = excluded.started, took = excluded.took, result = excluded.result,
			error = excluded.error, ran_by = excluded.ran_by,
			schedule = CASE WHEN excluded.schedule <> '' THEN excluded.schedule ELSE job_state.schedule END,
			next_run = CASE WHEN excluded.schedule <> '' THEN excluded.next_run ELSE job_state.next_run END,
			last_success = CASE WHEN $9 THEN excluded.started ELSE job_state.last_success END,
			runs = job_state.runs + 1,
			failures = CASE WHEN $9 THEN 0 ELSE job_state.failures + 1 END`,
		text(r.Job), r.Started, int64(r.Took), string(r.Result), text(r.Error), text(r.By), text(r.Schedule),
		maybe(r.Next), r.Result.Succeeded())
	if err != nil {
		return fmt.Errorf("record run of %s: %w", r.Job, err)
	}
	return nil
}

// JobStates implements reporter.JobLog.
func (s *Store) JobStates(ctx context.Context) ([]reporter.JobState, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT job, started, took, result, error, ran_by, schedule, next_run, last_success, runs, failures
		FROM job_state ORDER BY job COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("job states: %w", err)
	}
	defer rows.Close()
	var out []reporter.JobState
	for rows.Next() {
		var (
			j      reporter.JobState
			result string
			took   int64
		)
		if err := rows.Scan(&j.Last.Job, at(&j.Last.Started), &took, &result, &j.Last.Error, &j.Last.By, &j.Last.Schedule,
			at(&j.Last.Next), at(&j.LastSuccess), &j.Runs, &j.Failures); err != nil {
			return nil, fmt.Errorf("job states: %w", err)
		}
		j.Last.Took, j.Last.Result = time.Duration(took), reporter.JobResult(result)
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("job states: %w", err)
	}
	return out, nil
}
