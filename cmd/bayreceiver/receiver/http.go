package receiver

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/cmd/bayreceiver/chain"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store"
)

// DeviceStatus is what GET /devices/{device} answers.
type DeviceStatus struct {
	Device string `json:"device"`
	Shop   string `json:"shop"`
	// Stored counts the distinct records stored.
	Stored int64 `json:"stored"`
	// VerifiedThrough: every seq up to it is stored and chained (or in a
	// permanent gap). Complete: verified through the highest seq stored.
	VerifiedThrough uint64 `json:"verified_through"`
	HighestSeq      uint64 `json:"highest_seq"`
	Complete        bool   `json:"complete"`
	// Missing counts the seqs of the open gaps, PermanentMissing those the
	// device no longer has.
	Missing          uint64            `json:"missing"`
	Gaps             []store.Gap       `json:"gaps"`
	PermanentMissing uint64            `json:"permanent_missing"`
	Permanent        []record.SeqRange `json:"permanent"`
	BreakCount       int               `json:"break_count"`
	Breaks           []uint64          `json:"breaks"`
	Resets           []uint64          `json:"resets"`
	// SigCheckedThrough: every stored record up to it had its own
	// signature verified; SigFailures lists stored records (authenticated
	// through the chain) whose own signature does not verify.
	SigCheckedThrough uint64    `json:"sig_checked_through"`
	SigFailureCount   int       `json:"sig_failure_count"`
	SigFailures       []uint64  `json:"sig_failures"`
	UpdatedAt         time.Time `json:"updated_at"`
	// Quarantined lists the device's latest quarantined messages (with
	// ?quarantined=N, default 20).
	Quarantined []QuarantineView `json:"quarantined,omitempty"`
}

// QuarantineView is a quarantined message as the status shows it.
type QuarantineView struct {
	ID         int64     `json:"id"`
	Device     string    `json:"device"`
	Seq        uint64    `json:"seq"`
	Reason     string    `json:"reason"`
	Detail     string    `json:"detail"`
	Topic      string    `json:"topic,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
	Bytes      int       `json:"bytes"`
}

func viewQuarantine(qs []store.Quarantined) []QuarantineView {
	out := make([]QuarantineView, 0, len(qs))
	for _, q := range qs {
		out = append(out, QuarantineView{q.ID, q.Device, q.Seq, q.Reason, q.Detail, q.Topic, q.ReceivedAt, len(q.Wire)})
	}
	return out
}

// StatusOf is the status of a device with chain state ch and stored
// records.
func StatusOf(ch store.Chain, stored int64) DeviceStatus {
	s := DeviceStatus{
		Device: ch.Device, Shop: ch.Shop, Stored: stored, VerifiedThrough: ch.VerifiedThrough, HighestSeq: ch.HighestSeq,
		Missing: chain.Missing(&ch), Gaps: ch.Gaps, PermanentMissing: chain.PermanentCount(&ch), Permanent: ch.Permanent,
		BreakCount: ch.BreakCount, Breaks: ch.Breaks, Resets: ch.Resets, UpdatedAt: ch.UpdatedAt,
		SigCheckedThrough: ch.SigCheckedThrough, SigFailureCount: ch.SigFailureCount, SigFailures: ch.SigFailures,
	}
	s.Complete = len(ch.Gaps) == 0 && ch.VerifiedThrough >= ch.HighestSeq
	for _, l := range []*[]uint64{&s.Breaks, &s.Resets, &s.SigFailures} {
		if *l == nil {
			*l = []uint64{}
		}
	}
	if s.Gaps == nil {
		s.Gaps = []store.Gap{}
	}
	if s.Permanent == nil {
		s.Permanent = []record.SeqRange{}
	}
	return s
}

// Handler serves the status endpoints and the metrics (see the package
// doc).
func (r *Receiver) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /devices", r.getDevices)
	mux.HandleFunc("GET /devices/{device}", r.getDevice)
	mux.HandleFunc("GET /jobs", r.getJobs)
	mux.HandleFunc("GET /jobs/{job}", r.getJob)
	mux.HandleFunc("POST /jobs/{device}/{job}/retry", r.retryJob)
	mux.HandleFunc("GET /quarantine", r.getQuarantine)
	mux.HandleFunc("GET /metrics", r.getMetrics)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// problem is an error answer with a stable code beside the message.
func problem(w http.ResponseWriter, status int, code, format string, a ...any) {
	writeJSON(w, status, map[string]string{"code": code, "error": fmt.Sprintf(format, a...)})
}

func limit(req *http.Request, name string, def int) int {
	if n, err := strconv.Atoi(req.URL.Query().Get(name)); err == nil && n > 0 {
		return min(n, 1000)
	}
	return def
}

func (r *Receiver) getDevices(w http.ResponseWriter, req *http.Request) {
	chs, err := r.st.Chains(req.Context())
	if err != nil {
		problem(w, http.StatusInternalServerError, "store_error", "%v", err)
		return
	}
	out := make([]DeviceStatus, 0, len(chs))
	for _, ch := range chs {
		n, err := r.st.StoredCount(req.Context(), ch.Device)
		if err != nil {
			problem(w, http.StatusInternalServerError, "store_error", "%v", err)
			return
		}
		out = append(out, StatusOf(ch, n))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Device < out[j].Device })
	writeJSON(w, http.StatusOK, out)
}

func (r *Receiver) getDevice(w http.ResponseWriter, req *http.Request) {
	dev := req.PathValue("device")
	ch, ok, err := r.st.Chain(req.Context(), dev)
	if err != nil {
		problem(w, http.StatusInternalServerError, "store_error", "%v", err)
		return
	}
	if !ok {
		problem(w, http.StatusNotFound, "unknown_device", "no record of device %q has been verified", dev)
		return
	}
	n, err := r.st.StoredCount(req.Context(), dev)
	if err != nil {
		problem(w, http.StatusInternalServerError, "store_error", "%v", err)
		return
	}
	s := StatusOf(ch, n)
	qs, err := r.st.QuarantinedRecords(req.Context(), dev, limit(req, "quarantined", 20))
	if err != nil {
		problem(w, http.StatusInternalServerError, "store_error", "%v", err)
		return
	}
	s.Quarantined = viewQuarantine(qs)
	writeJSON(w, http.StatusOK, s)
}

func (r *Receiver) getJobs(w http.ResponseWriter, req *http.Request) {
	js, err := r.st.Jobs(req.Context(), store.JobState(req.URL.Query().Get("state")))
	if err != nil {
		problem(w, http.StatusInternalServerError, "store_error", "%v", err)
		return
	}
	if js == nil {
		js = []store.Job{}
	}
	writeJSON(w, http.StatusOK, js)
}

func (r *Receiver) getJob(w http.ResponseWriter, req *http.Request) {
	js, err := r.st.JobsByID(req.Context(), req.PathValue("job"))
	if err != nil {
		problem(w, http.StatusInternalServerError, "store_error", "%v", err)
		return
	}
	if len(js) == 0 {
		problem(w, http.StatusNotFound, "unknown_job", "no closed job %q has been received", req.PathValue("job"))
		return
	}
	writeJSON(w, http.StatusOK, js)
}

// retryJob makes a rejected (or failing) job due again, after the
// operator fixed its cause (configuration, or the province's side).
func (r *Receiver) retryJob(w http.ResponseWriter, req *http.Request) {
	j, ok, err := r.st.Job(req.Context(), req.PathValue("device"), req.PathValue("job"))
	switch {
	case err != nil:
		problem(w, http.StatusInternalServerError, "store_error", "%v", err)
		return
	case !ok:
		problem(w, http.StatusNotFound, "unknown_job", "no job %q of device %q", req.PathValue("job"), req.PathValue("device"))
		return
	case j.State != store.JobRejected && j.State != store.JobPending:
		problem(w, http.StatusConflict, "job_not_retryable", "job %s of %s is %s; only rejected or pending jobs are retried", j.Job, j.Device, j.State)
		return
	}
	from := j.State
	j.State, j.NextAttempt, j.UpdatedAt = store.JobPending, r.o.Now().UTC(), r.o.Now().UTC()
	if ok, err := r.st.SwapJob(req.Context(), j, from); err != nil || !ok {
		problem(w, http.StatusConflict, "job_busy", "job %s of %s changed meanwhile (%v); look again", j.Job, j.Device, err)
		return
	}
	select {
	case r.upWake <- struct{}{}:
	default:
	}
	writeJSON(w, http.StatusOK, j)
}

func (r *Receiver) getQuarantine(w http.ResponseWriter, req *http.Request) {
	qs, err := r.st.QuarantinedRecords(req.Context(), req.URL.Query().Get("device"), limit(req, "limit", 100))
	if err != nil {
		problem(w, http.StatusInternalServerError, "store_error", "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, viewQuarantine(qs))
}

// getMetrics writes the metrics in the Prometheus text format (0.0.4):
// this receiver's counters, and totals of the store shared by every
// receiver.
func (r *Receiver) getMetrics(w http.ResponseWriter, req *http.Request) {
	c, err := r.st.Counts(req.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	chs, err := r.st.Chains(req.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var missing, permanent, breaks, verified, sigFailures, unchecked uint64
	gaps := 0
	for i := range chs {
		missing += chain.Missing(&chs[i])
		permanent += chain.PermanentCount(&chs[i])
		breaks += uint64(chs[i].BreakCount)
		verified += chs[i].VerifiedThrough
		sigFailures += uint64(chs[i].SigFailureCount)
		unchecked += chs[i].VerifiedThrough - min(chs[i].SigCheckedThrough, chs[i].VerifiedThrough)
		gaps += len(chs[i].Gaps)
	}
	s := r.Stats()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	m := metricWriter{w: w}
	m.counter("bayreceiver_records_received_total", "Record messages this receiver took from the broker (duplicates included).", s.Received)
	m.counter("bayreceiver_records_verified_total", "Records this receiver verified (signature) and stored for the first time.", s.Stored)
	m.counter("bayreceiver_records_duplicate_total", "Verified records this receiver found already stored (at-least-once delivery).", s.Duplicates)
	m.labelled("bayreceiver_records_rejected_total", "counter", "Messages this receiver quarantined, by reason.", "reason", toFloat(s.Rejected),
		store.ReasonMalformed, store.ReasonWrongTopic, store.ReasonUnknownDevice, store.ReasonBadSignature, store.ReasonConflict)
	m.gauge("bayreceiver_store_records", "Records in the store (every receiver).", float64(c.Records))
	m.gauge("bayreceiver_store_devices", "Devices whose chain the store tracks.", float64(c.Devices))
	m.gauge("bayreceiver_chain_verified_records", "Sequence numbers verified (stored and chained, or permanently missing), summed over devices.", float64(verified))
	m.gauge("bayreceiver_gaps_open", "Open gaps over all devices.", float64(gaps))
	m.gauge("bayreceiver_gaps_missing_records", "Records missing in open gaps.", float64(missing))
	m.gauge("bayreceiver_gaps_permanent_records", "Records the devices no longer have (permanent gaps).", float64(permanent))
	m.gauge("bayreceiver_chain_breaks", "Broken chain links over all devices.", float64(breaks))
	m.labelled("bayreceiver_records_authenticated_total", "counter", "Records this receiver authenticated on arrival, by way: their own signature, or the hash chain.", "by",
		map[string]float64{"signature": float64(s.BySignature), "chain": float64(s.ByChain)}, "signature", "chain")
	m.gauge("bayreceiver_sig_unchecked_records", "Sequence numbers up to the verified watermarks whose own signature the idle check has not verified yet.", float64(unchecked))
	m.gauge("bayreceiver_sig_failures", "Stored records (authenticated by the chain) whose own signature does not verify.", float64(sigFailures))
	m.labelled("bayreceiver_store_quarantined", "gauge", "Quarantined messages in the store, by reason.", "reason", toFloat64(c.Quarantined),
		store.ReasonMalformed, store.ReasonWrongTopic, store.ReasonUnknownDevice, store.ReasonBadSignature, store.ReasonConflict)
	m.counter("bayreceiver_resend_requests_total", "Resend commands this receiver sent.", s.ResendsSent)
	m.counter("bayreceiver_resend_replies_total", "Replies to resend commands this receiver handled.", s.ResendReplies)
	jobs := map[string]float64{}
	var states []string
	for _, st := range store.JobStates() {
		jobs[string(st)] = float64(c.Jobs[st])
		states = append(states, string(st))
	}
	m.labelled("bayreceiver_uploads", "gauge", "Jobs by upload state (every receiver).", "state", jobs, states...)
	m.labelled("bayreceiver_upload_attempts_total", "counter", "Upload attempts of this receiver, by outcome.", "result",
		map[string]float64{"uploaded": float64(s.UploadsOK), "rejected": float64(s.UploadsReject), "failed": float64(s.UploadsFailed)},
		"uploaded", "rejected", "failed")
}

func toFloat(m map[string]uint64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		out[k] = float64(v)
	}
	return out
}

func toFloat64(m map[string]int64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		out[k] = float64(v)
	}
	return out
}

// metricWriter writes the text format, families in the order written,
// labels in the order given (every known value, zero included).
type metricWriter struct{ w io.Writer }

func (m metricWriter) head(name, typ, help string) {
	fmt.Fprintf(m.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func (m metricWriter) counter(name, help string, v uint64) {
	m.head(name, "counter", help)
	fmt.Fprintf(m.w, "%s %d\n", name, v)
}

func (m metricWriter) gauge(name, help string, v float64) {
	m.head(name, "gauge", help)
	fmt.Fprintf(m.w, "%s %s\n", name, strconv.FormatFloat(v, 'g', -1, 64))
}

func (m metricWriter) labelled(name, typ, help, label string, vals map[string]float64, known ...string) {
	m.head(name, typ, help)
	keys := append([]string(nil), known...)
	var extra []string
	for k := range vals {
		found := false
		for _, kn := range known {
			found = found || k == kn
		}
		if !found {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range append(keys, extra...) {
		fmt.Fprintf(m.w, "%s{%s=%q} %s\n", name, label, k, strconv.FormatFloat(vals[k], 'g', -1, 64))
	}
}
