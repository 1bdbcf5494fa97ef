package config

import (
	"fmt"
	"time"
)

// DefaultPurgeSchedule is when the purge runs (store.purge_schedule): each
// run removes what aged past store.retention in the last hour, a small
// job, rather than a day's worth at once.
const DefaultPurgeSchedule = "@hourly"

// DefaultPurgeBatch is how many rows one purge transaction removes at most
// (store.purge_batch); it matches reporter.DefaultPurgeBatch.
const DefaultPurgeBatch = 5000

// retention checks store.retention against what must outlive it, after
// the feeds: an owner is "already told" about a key for the feed's repeat
// window, and the purge takes the reports that say so with it, so a
// retention shorter than a repeat window would tell owners again what
// they were told inside it. An API source lists files for its days, and
// the record that a file was fetched must outlive the listing, or the file
// is downloaded and its events stored again as new.
//
// Retention is off unless set: dropping history is a decision about the
// CERT's obligations (how long it must, or may, keep what it sent to
// whom), not one a default should make.
func (v *validator) retention() {
	st := &v.cfg.Store
	if err := checkSchedule(st.PurgeSchedule); err != nil {
		v.add("store.purge_schedule", "%v", err)
	}
	if st.PurgeBatch < 1 || st.PurgeBatch > 1_000_000 {
		v.add("store.purge_batch", "%d must be from 1 to 1,000,000 rows a transaction (default %d)", st.PurgeBatch, DefaultPurgeBatch)
	}
	d := st.Retention.Duration()
	if st.Retention.err != nil || d == 0 {
		return // off (unset or written 0), or not a duration: reported already
	}
	if d < 24*time.Hour {
		// "400m" meant as months is under seven hours.
		v.add("store.retention", "%q is less than a day: history would be gone before anyone looked (m is minutes; write 400d or 57w)", st.Retention)
		return
	}
	// A feed removed from the config keeps the default window for the
	// events it left (Daemon.policy), so the default counts too.
	need, key := DefaultRepeat, "the default repeat window of a feed removed from the config"
	for i, f := range v.cfg.Feeds {
		if f.Repeat.Duration() > need {
			need, key = f.Repeat.Duration(), fmt.Sprintf("feeds[%d].repeat (%s)", i, f.Name)
		}
	}
	if d < need {
		v.add("store.retention", "%q is shorter than %s, %s: the purge would forget reports inside the repeat window and owners would be told again; keep store.retention at least that long",
			st.Retention, key, need)
	}
	for i, f := range v.cfg.Feeds {
		api := f.Source.ShadowserverAPI
		if api == nil {
			continue
		}
		// The listing covers today and the days before; a day more for
		// time zones and a file fetched late in its day.
		listed := time.Duration(api.Days+1) * 24 * time.Hour
		if d < listed {
			v.add("store.retention", "%q is shorter than feeds[%d].source.shadowserver_api.days (%d) and a day: a file the API still lists would be fetched and its events stored again as new",
				st.Retention, i, api.Days)
		}
	}
}
