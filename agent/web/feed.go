package web

import (
	"cmp"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/drivers/obd"
)

// topic is a set of pages an update concerns.
type topic uint8

const (
	topicNow topic = 1 << iota
	topicJob
	topicLive
	topicBox
	topicAll = topicNow | topicJob | topicLive | topicBox
)

// Bounds of what the screen remembers.
const (
	maxJobsIndexed  = 64   // jobs whose record seq numbers are kept
	maxRecordsKept  = 1000 // seq numbers kept per job
	maxLivePoints   = 120  // samples kept per live value (2 min at 1 Hz)
	maxLiveSeries   = 32
	maxLiveMsgBytes = 1 << 20
)

// feed is what the screen learned from the records and the live feed, and
// the pages' event streams waiting for it to change.
type feed struct {
	mu       sync.Mutex
	lastScan *scanEntry
	jobs     map[string]*jobRecords
	jobOrder []string // job ids, oldest first
	stored   int      // records seen since start
	series   []*liveSeries
	liveAt   time.Time // last live message
	liveEnd  string    // why the feed stopped ("" while it runs)
	subs     map[*subscriber]struct{}
	closed   chan struct{}
}

// scanEntry is the last scan record.
type scanEntry struct {
	Seq  uint64
	Time time.Time
	Job  string
	Body job.ScanBody
}

// recordRef is a stored record of a job, as the report lists it.
type recordRef struct {
	Seq  uint64
	Kind string
	N    int // the event's number in its job (0 for records outside the job's events)
	Time time.Time
}

type jobRecords struct {
	refs []recordRef
}

// liveSeries is the recent values of one live value.
type liveSeries struct {
	Name, Label, Unit string
	ECU               obd.ECU
	Points            []livePoint
}

type livePoint struct {
	T time.Time
	V float64
}

// subscriber is one event stream.
type subscriber struct {
	topics topic
	ch     chan struct{} // a wake-up; buffered 1, so updates coalesce
}

func newFeed() *feed {
	return &feed{jobs: map[string]*jobRecords{}, subs: map[*subscriber]struct{}{}, closed: make(chan struct{})}
}

func (f *feed) subscribe(t topic) *subscriber {
	s := &subscriber{topics: t, ch: make(chan struct{}, 1)}
	f.mu.Lock()
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	return s
}

func (f *feed) unsubscribe(s *subscriber) {
	f.mu.Lock()
	delete(f.subs, s)
	f.mu.Unlock()
}

// close ends every event stream (shutdown).
func (f *feed) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.closed:
	default:
		close(f.closed)
	}
}

// changed wakes the streams of the pages concerned.
func (f *feed) changed(t topic) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.wakeLocked(t)
}

func (f *feed) wakeLocked(t topic) {
	for s := range f.subs {
		if s.topics&t != 0 {
			select {
			case s.ch <- struct{}{}:
			default:
			}
		}
	}
}

// record takes a stored record. Every page may show something of it (the
// Box page counts them), so every stream wakes.
func (f *feed) record(rec record.Record, stored bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if stored {
		f.stored++
	}
	var body struct {
		N int `json:"n"`
	}
	_ = json.Unmarshal(rec.Body, &body)
	if rec.Job != "" {
		f.index(rec, body.N)
	}
	if rec.Kind == record.KindScan {
		var sb job.ScanBody
		if err := json.Unmarshal(rec.Body, &sb); err == nil {
			f.lastScan = &scanEntry{Seq: rec.Seq, Time: rec.Time, Job: rec.Job, Body: sb}
		}
	}
	f.wakeLocked(topicAll)
}

func (f *feed) index(rec record.Record, n int) {
	jr := f.jobs[rec.Job]
	if jr == nil {
		if len(f.jobOrder) >= maxJobsIndexed {
			delete(f.jobs, f.jobOrder[0])
			f.jobOrder = f.jobOrder[1:]
		}
		jr = &jobRecords{}
		f.jobs[rec.Job] = jr
		f.jobOrder = append(f.jobOrder, rec.Job)
	}
	if len(jr.refs) < maxRecordsKept {
		jr.refs = append(jr.refs, recordRef{Seq: rec.Seq, Kind: rec.Kind, N: n, Time: rec.Time})
	}
}

// scan returns the last scan record, or nil.
func (f *feed) scan() *scanEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastScan
}

// records returns the stored records of a job this agent saw.
func (f *feed) records(jobID string) []recordRef {
	f.mu.Lock()
	defer f.mu.Unlock()
	if jr := f.jobs[jobID]; jr != nil {
		return slices.Clone(jr.refs)
	}
	return nil
}

// recentJobs returns the ids of the jobs seen, newest first.
func (f *feed) recentJobs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.jobOrder)
	slices.Reverse(out)
	return out
}

func (f *feed) storedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stored
}

// liveMessage is the part of the agent's live topic message the screen
// reads.
type liveMessage struct {
	Samples []struct {
		T      time.Time   `json:"t"`
		ECU    obd.ECU     `json:"ecu"`
		Values []obd.Value `json:"values"`
	} `json:"samples"`
	Stopped string `json:"stopped"`
}

// live takes one live message.
func (f *feed) live(msg []byte, now time.Time) {
	if len(msg) > maxLiveMsgBytes {
		return
	}
	var m liveMessage
	if err := json.Unmarshal(msg, &m); err != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.liveEnd != "" && len(m.Samples) > 0 {
		// A new feed: start the chart afresh.
		f.series, f.liveEnd = nil, ""
	}
	f.liveAt = now
	for _, s := range m.Samples {
		for _, v := range s.Values {
			if v.Text != "" {
				continue // enumerations and raw data do not chart
			}
			ls := f.seriesLocked(s.ECU, v)
			if ls == nil {
				continue
			}
			ls.Points = append(ls.Points, livePoint{T: s.T, V: v.Value})
			if n := len(ls.Points); n > maxLivePoints {
				ls.Points = slices.Delete(ls.Points, 0, n-maxLivePoints)
			}
		}
	}
	if m.Stopped != "" {
		f.liveEnd = m.Stopped
	}
	f.wakeLocked(topicLive)
}

func (f *feed) seriesLocked(ecu obd.ECU, v obd.Value) *liveSeries {
	for _, s := range f.series {
		if s.ECU == ecu && s.Name == v.Name {
			return s
		}
	}
	if len(f.series) >= maxLiveSeries {
		return nil
	}
	s := &liveSeries{Name: v.Name, Label: v.Label, Unit: v.Unit, ECU: ecu}
	f.series = append(f.series, s)
	slices.SortFunc(f.series, func(a, b *liveSeries) int {
		if a.ECU != b.ECU {
			return int(a.ECU) - int(b.ECU)
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return s
}

// liveState returns copies of the series and the feed's state.
func (f *feed) liveState() (series []liveSeries, at time.Time, stopped string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.series {
		c := *s
		c.Points = slices.Clone(s.Points)
		series = append(series, c)
	}
	return series, f.liveAt, f.liveEnd
}
