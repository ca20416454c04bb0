// Package scan reads a vehicle's health snapshot over any OBD transport.
//
// The transport is ISO-TP over CAN or an ELM327 adapter; the snapshot holds
// identity, fault codes, readiness, freeze frame, live data and on-board test
// results, with the findings an inspector cares about.
//
// The scan is fast because a technician is standing there: it discovers the
// ECUs and their supported PIDs once, asks for up to six PIDs per request, and
// tells the transport which ECUs will answer each request so that it returns
// as soon as they have. Only discovery waits out the full response window.
//
// # Degrade, never abort
//
// Discovery is the only step whose failure ends a scan. Every other request
// that is refused ("?", NO DATA, a negative response, garbage, a timeout)
// makes what it asked for unavailable, with an entry in Snapshot.Problems,
// and the scan goes on. A request carrying several items (Mode 01 PIDs, Mode
// 02 PID/frame pairs, supported-range PIDs) that is refused or answered only
// in part is asked again one item at a time; when one item at a time works,
// the Session remembers that the adapter (or that ECU) does not batch, and
// Stats says so. A single-item request sent to one ECU's physical address
// that brings nothing back is tried once on the functional address. When the
// list of supported Mode 09 InfoTypes (09 00) is refused or incomplete, the
// InfoTypes the snapshot needs are asked directly.
package scan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/bayagent/bayagent/drivers/obd"
)

// ErrNoVehicle is returned when no ECU answers discovery: the ignition is off,
// the adapter is not plugged in, or the bus is not the vehicle's.
var ErrNoVehicle = errors.New("scan: no ECU answered (ignition off, or not connected?)")

// Options tunes a scan. The zero value is ready to use.
type Options struct {
	// ExpectedVIN is the job's VIN; a different VIN read from the vehicle
	// raises FlagVINMismatch. Empty: not checked.
	ExpectedVIN string
	// Cleared thresholds: codes count as cleared recently when the distance
	// since clear is below ClearedKm (default 50 km) or the warm-ups since
	// clear below ClearedWarmups (default 5).
	ClearedKm      float64
	ClearedWarmups float64
	// Protocol is copied into the snapshot (the transport's description).
	Protocol string
	// Session is what earlier scans and live samples on the same link
	// learnt (an adapter or ECU that does not batch); nil starts afresh.
	Session *Session
	// Discovered are the answers to a functional 0100 that the transport
	// received just before the scan (an ELM327's protocol search): the
	// scan's discovery takes them instead of asking again (Stats count that
	// request all the same). Nil: it asks.
	Discovered []obd.Response
	// Setup is how long the vehicle interface took to get ready before
	// the first OBD request (adapter reset, protocol search), measured by
	// the caller; it is copied into Stats.Setup.
	Setup time.Duration
	// Now returns the current time (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.ClearedKm == 0 {
		o.ClearedKm = 50
	}
	if o.ClearedWarmups == 0 {
		o.ClearedWarmups = 5
	}
	if o.Session == nil {
		o.Session = &Session{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// discoveryTries is how often the first 0100 goes out before the scan gives
// up; maxPIDsPerRequest is how many PIDs a Mode 01 request carries on CAN,
// and maxFreezePairs how many PID/frame pairs fit a Mode 02 single frame.
const (
	discoveryTries    = 2
	maxPIDsPerRequest = 6
	maxFreezePairs    = 3
)

// Scan reads a full health snapshot through t. It fails only when no ECU
// answers discovery (ErrNoVehicle) or ctx ends; everything else that goes
// wrong is listed in the snapshot's Problems.
func Scan(ctx context.Context, t obd.Transport, opts Options) (*Snapshot, error) {
	opts.defaults()
	s := &scanner{t: t, opts: opts, sess: opts.Session, ecus: map[obd.ECU]*ecuState{}}
	start := opts.Now()
	snap := &Snapshot{Protocol: opts.Protocol}
	snap.Stats.Started = start

	if err := s.discover(ctx); err != nil {
		return nil, err
	}
	for _, step := range []func(context.Context){
		s.currentData,
		s.troubleCodes,
		s.freezeFrame,
		s.vehicleInfo,
		s.testResults,
	} {
		step(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	s.assemble(snap)
	snap.Stats.Duration = opts.Now().Sub(start)
	snap.Stats.Setup = opts.Setup
	snap.Stats.Requests = s.requests
	snap.Stats.FullWindow = s.fullWindow
	snap.Stats.Retried = s.retried
	snap.Stats.MaxPerRequest = s.sess.perRequest(t, s.all(), maxPIDsPerRequest)
	snap.Stats.NoBatch, snap.Stats.NoBatchECUs = s.sess.state()
	if l, ok := t.(limiter); ok && l.MaxPIDs() == 1 {
		snap.Stats.NoBatch = NoBatchProtocol
	}
	return snap, nil
}

// ecuState is what the scan learned about one ECU.
type ecuState struct {
	addr      obd.ECU
	pids      obd.PIDSet // Mode 01
	freeze    obd.PIDSet // Mode 02, frame 0
	infoTypes obd.PIDSet // Mode 09
	infoKnown bool       // infoTypes came from a valid 09 00 answer
	mids      obd.PIDSet // Mode 06 monitors
	tests     []obd.TestResult
	status    *obd.MonitorStatus
	live      map[obd.PID][]obd.Value
	stored    []obd.DTC
	pending   []obd.DTC
	permanent []obd.DTC
	freezeDTC string
	freezeVal []obd.Value
	vin       string
	name      string
	calids    []string
	cvns      []string
	iupr      *obd.IUPR
}

type scanner struct {
	t          obd.Transport
	opts       Options
	sess       *Session
	ecus       map[obd.ECU]*ecuState
	requests   int
	fullWindow int
	retried    int
	problems   []string
}

func (s *scanner) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.problems = append(s.problems, msg)
	s.opts.Logger.Warn("scan: " + msg)
}

// reply is what one request brought back.
type reply struct {
	pos map[obd.ECU][]byte // positive answers, by ECU
	neg map[obd.ECU]error  // negative or malformed answers, by ECU
	err error              // the transport's error, if any
}

// answered reports whether ecu answered at all, positively or not.
func (r reply) answered(ecu obd.ECU) bool {
	_, p := r.pos[ecu]
	_, n := r.neg[ecu]
	return p || n
}

// none reports whether nobody answered the request.
func (r reply) none() bool { return len(r.pos) == 0 && len(r.neg) == 0 }

// why says why ecu brought nothing usable back.
func (r reply) why(ecu obd.ECU) string {
	if err, ok := r.neg[ecu]; ok {
		return err.Error()
	}
	if r.err != nil && !errors.Is(r.err, obd.ErrNoResponse) {
		return r.err.Error()
	}
	return "no answer"
}

// serviceRefused reports whether ecu's negative answer refuses the whole
// service (serviceNotSupported), so that asking item by item is pointless.
func (r reply) serviceRefused(ecu obd.ECU) bool {
	var nr obd.NegativeResponseError
	return errors.As(r.neg[ecu], &nr) && (nr.Code == obd.NRCServiceNotSupported || nr.Code == obd.NRCServiceNotSupportedInSession)
}

// ask sends one request. It never fails: what the transport says goes into
// the reply, for the caller to turn into problems. Answers from ECUs that
// the request was not addressed to are dropped.
func (s *scanner) ask(ctx context.Context, req obd.Request) reply {
	s.requests++
	if len(req.Expect) == 0 && req.To == 0 {
		s.fullWindow++
	}
	resps, err := s.t.Do(ctx, req)
	if err != nil && ctx.Err() == nil {
		s.opts.Logger.Debug("scan: request failed", "request", fmt.Sprintf("% X", req.Data), "err", err)
	}
	r := s.collect(req, resps, err)
	if len(req.Expect) > 0 && slices.ContainsFunc(req.Expect, func(e obd.ECU) bool { return !r.answered(e) }) {
		s.fullWindow++ // an expected ECU kept silent: the transport waited the window out
	}
	return r
}

// collect turns what a request brought back into a reply.
func (s *scanner) collect(req obd.Request, resps []obd.Response, err error) reply {
	r := reply{pos: map[obd.ECU][]byte{}, neg: map[obd.ECU]error{}, err: err}
	for _, x := range resps {
		if req.To != 0 && x.ECU != req.To {
			continue
		}
		if _, ok := r.pos[x.ECU]; ok {
			continue
		}
		if stale(req.Data, x.Data) {
			s.opts.Logger.Debug("scan: late answer to an earlier request dropped", "ecu", x.ECU, "answer", fmt.Sprintf("% X", x.Data))
			continue
		}
		if err := obd.CheckResponse(req.Data[0], x.Data); err != nil {
			r.neg[x.ECU] = err
			continue
		}
		r.pos[x.ECU] = x.Data
		delete(r.neg, x.ECU)
	}
	return r
}

// stale reports whether resp cannot answer req: a positive answer whose
// first PID (InfoType, MID) is not one that req asked for is a late answer
// to an earlier request, from an ECU the transport did not wait for.
func stale(req, resp []byte) bool {
	if len(req) < 2 || len(resp) < 2 || resp[0] != req[0]+0x40 {
		return false
	}
	switch req[0] {
	case 0x01, 0x06, 0x09:
		return !slices.Contains(req[1:], resp[1])
	case 0x02:
		for i := 1; i < len(req); i += 2 {
			if req[i] == resp[1] {
				return false
			}
		}
		return true
	}
	return false
}

// sorted returns the known ECUs in address order.
func (s *scanner) sorted() []*ecuState {
	out := make([]*ecuState, 0, len(s.ecus))
	for _, e := range s.ecus {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *ecuState) int { return int(a.addr) - int(b.addr) })
	return out
}

// which lists the ECUs for which has is true, in address order.
func (s *scanner) which(has func(*ecuState) bool) []obd.ECU {
	var out []obd.ECU
	for _, e := range s.sorted() {
		if has(e) {
			out = append(out, e.addr)
		}
	}
	return out
}

func (s *scanner) all() []obd.ECU { return s.which(func(*ecuState) bool { return true }) }

// discover finds the ECUs with a functional 0100 (the one request that waits
// out the window; none when Options.Discovered holds its answers) and then their further supported-PID ranges: in one
// request where batching works, else following the chain one range at a
// time.
func (s *scanner) discover(ctx context.Context) error {
	var r reply
	if len(s.opts.Discovered) > 0 {
		// Asked during the adapter's set-up, but asked all the same: it
		// counts, so that Stats do not depend on the path to the vehicle.
		s.requests++
		s.fullWindow++
		r = s.collect(obd.Request{Data: []byte{0x01, 0x00}}, s.opts.Discovered, nil)
	}
	// ISO 15765-4 lets the tester repeat the first request: an ECU that
	// is still waking up may miss it.
	for try := 0; try < discoveryTries && len(r.pos) == 0; try++ {
		r = s.ask(ctx, obd.Request{Data: []byte{0x01, 0x00}})
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	for _, ecu := range sortedKeys(r.pos) {
		e := &ecuState{addr: ecu, live: map[obd.PID][]obd.Value{}}
		if _, err := mergeSupported(&e.pids, r.pos[ecu]); err != nil {
			s.problem("ECU %s: supported PIDs: %v", ecu, err)
			continue
		}
		s.ecus[ecu] = e
	}
	if len(s.ecus) == 0 {
		if r.err != nil && !errors.Is(r.err, obd.ErrNoResponse) {
			return fmt.Errorf("%w: %w", ErrNoVehicle, r.err)
		}
		return ErrNoVehicle
	}
	s.ranges(ctx, 0x01, func(e *ecuState) *obd.PIDSet { return &e.pids }, "supported PIDs")
	return nil
}

// ranges reads the supported-item bitmaps 20, 40, ... E0 of a service
// (Mode 01 PIDs, Mode 06 MIDs) for every ECU whose earlier bitmap says the
// next one exists: the ranges 20-C0 in one request where batching works, and
// then one at a time along the chain what that did not bring back.
func (s *scanner) ranges(ctx context.Context, svc byte, set func(*ecuState) *obd.PIDSet, what string) {
	got := map[obd.ECU]map[obd.PID]bool{}
	mark := func(ecu obd.ECU, ps []obd.PID) {
		if got[ecu] == nil {
			got[ecu] = map[obd.PID]bool{}
		}
		for _, p := range ps {
			got[ecu][p] = true
		}
	}
	needs := func(e *ecuState, base obd.PID) bool { return set(e).Has(base) && !got[e.addr][base] }
	batched := map[obd.ECU]reply{} // ECUs whose batch answer left ranges out
	tried := false
	expect := s.which(func(e *ecuState) bool { return set(e).Has(0x20) })
	if len(expect) > 0 && s.sess.perRequest(s.t, expect, maxPIDsPerRequest) > 1 {
		tried = true
		req := []byte{svc}
		for p := 0x20; p <= 0xC0; p += 0x20 {
			req = append(req, byte(p))
		}
		r := s.ask(ctx, obd.Request{Data: req, Expect: expect})
		for _, ecu := range expect {
			e := s.ecus[ecu]
			if resp, ok := r.pos[ecu]; ok {
				ps, err := mergeSupported(set(e), resp)
				if err != nil {
					s.problem("ECU %s: %s: %v", ecu, what, err)
				}
				mark(ecu, ps)
			}
			for p := obd.PID(0x20); p <= 0xC0; p += 0x20 {
				if needs(e, p) {
					batched[ecu] = r
					break
				}
			}
		}
	}
	for base := obd.PID(0x20); ; base += 0x20 {
		need := s.which(func(e *ecuState) bool { return needs(e, base) })
		if len(need) > 0 {
			if tried && base <= 0xC0 {
				s.retried++
			}
			// Every ECU with this range answers a functional request:
			// waiting for all of them keeps late answers out of the next.
			expect := s.which(func(e *ecuState) bool { return set(e).Has(base) })
			r := s.ask(ctx, obd.Request{Data: []byte{svc, byte(base)}, Expect: expect})
			for _, ecu := range need {
				resp, ok := r.pos[ecu]
				if !ok {
					s.problem("ECU %s: %s %s-%s not available (%s)", ecu, what, base+1, base+0x20, r.why(ecu))
					continue
				}
				ps, err := mergeSupported(set(s.ecus[ecu]), resp)
				if err != nil {
					s.problem("ECU %s: %s: %v", ecu, what, err)
				}
				mark(ecu, ps)
				if br, ok := batched[ecu]; ok && len(ps) > 0 {
					s.learnNoBatch(ecu, br)
					delete(batched, ecu)
				}
			}
		}
		if base == 0xE0 {
			return
		}
	}
}

// learnNoBatch records, after one item at a time worked where the batch r
// failed for ecu, who does not batch: the adapter when nobody answered the
// batch at all, else that ECU.
func (s *scanner) learnNoBatch(ecu obd.ECU, r reply) {
	if r.none() {
		s.sess.noBatch(NoBatchAdapter)
		s.opts.Logger.Info("scan: the adapter refuses requests with several items; one item per request from now on", "err", r.err)
		return
	}
	s.sess.noBatchECU(ecu, r.why(ecu))
	s.opts.Logger.Info("scan: an ECU answers only part of requests with several items; one item per request for it from now on", "ecu", ecu)
	// Every one of several ECUs doing it is the adapter's doing.
	if all := s.all(); len(all) > 1 {
		if _, ecus := s.sess.state(); len(ecus) >= len(all) && !slices.ContainsFunc(all, func(e obd.ECU) bool { return !slices.Contains(ecus, e) }) {
			s.sess.noBatch(NoBatchAdapter)
		}
	}
}

// mergeSupported adds the supported-item bitmaps of a Mode 01, 02 or 06
// response (one or several ranges) to set and returns the ranges it held.
func mergeSupported(set *obd.PIDSet, resp []byte) ([]obd.PID, error) {
	if len(resp) > 0 && resp[0] == 0x46 {
		sup, bases, err := obd.ParseSupportedMIDs(resp)
		set.Merge(sup)
		return bases, err
	}
	items, err := splitPIDs(resp)
	if err != nil {
		return nil, err
	}
	var out []obd.PID
	for _, it := range items {
		if !isRangePID(it.pid) {
			continue
		}
		sup, err := obd.DecodeSupported(it.pid, it.data)
		if err != nil {
			return out, err
		}
		set.Merge(sup)
		out = append(out, it.pid)
	}
	return out, nil
}

type pidData struct {
	pid  obd.PID
	data []byte
}

// splitPIDs splits a Mode 01 (41 ...) or Mode 02 (42 ...) positive response.
func splitPIDs(resp []byte) ([]pidData, error) {
	var out []pidData
	switch {
	case len(resp) > 0 && resp[0] == 0x42:
		items, err := obd.ParseFreezeFrameResponse(resp)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			out = append(out, pidData{it.PID, it.Data})
		}
		return out, nil
	}
	data, order, err := obd.ParsePIDResponse(resp)
	if err != nil {
		return nil, err
	}
	for _, p := range order {
		out = append(out, pidData{p, data[p]})
	}
	return out, nil
}

func isRangePID(p obd.PID) bool { return p%0x20 == 0 }

// dataPIDs lists the supported non-range PIDs of set, ascending.
func dataPIDs(set obd.PIDSet) []obd.PID {
	var out []obd.PID
	for _, p := range set.List() {
		if !isRangePID(p) {
			out = append(out, p)
		}
	}
	return out
}

// items describes the items of one service that gather asks for.
type items struct {
	svc     byte
	what    string // one item, for problems: "PID"
	service string // the service, for problems: "current data (Mode 01)"
	// per is the most items one request may carry.
	per int
	// encode builds the request for a list of items.
	encode func(list []obd.PID) []byte
	// take stores what one ECU's positive answer holds and returns the
	// items it carried (decoding problems are its own to report).
	take func(e *ecuState, resp []byte) []obd.PID
}

// gather asks every ECU for the items it wants (want[ecu], each list
// ascending), as few requests as the session's batching allows, each
// expecting exactly the ECUs that want one of its items. What a request with
// several items did not bring back is asked again one item at a time: on one
// ECU's physical address when only that ECU wants it (and once on the
// functional address when that brings nothing), else functionally. When
// that works the session learns who does not batch. Items still missing
// become problems.
func (s *scanner) gather(ctx context.Context, k items, want map[obd.ECU][]obd.PID) {
	wants := func(ecu obd.ECU, p obd.PID) bool { return slices.Contains(want[ecu], p) }
	var union []obd.PID
	for _, ps := range want {
		for _, p := range ps {
			if !slices.Contains(union, p) {
				union = append(union, p)
			}
		}
	}
	slices.Sort(union)
	ecus := sortedKeys(want)
	type key struct {
		ecu obd.ECU
		pid obd.PID
	}
	failed := map[key]string{}    // items that are unavailable, and why
	retry := map[key]reply{}      // items a batch did not bring back, and that batch's reply
	refused := map[obd.ECU]bool{} // ECUs that refused the whole service

	for _, chunk := range s.chunks(union, ecus, k.per) {
		expect := slices.DeleteFunc(slices.Clone(ecus), func(ecu obd.ECU) bool {
			return refused[ecu] || !slices.ContainsFunc(chunk, func(p obd.PID) bool { return wants(ecu, p) })
		})
		if len(expect) == 0 {
			continue
		}
		r := s.ask(ctx, obd.Request{Data: k.encode(chunk), Expect: expect})
		if ctx.Err() != nil {
			return
		}
		for _, ecu := range expect {
			var got []obd.PID
			if resp, ok := r.pos[ecu]; ok {
				got = k.take(s.ecus[ecu], resp)
			}
			if r.serviceRefused(ecu) {
				refused[ecu] = true
			}
			for _, p := range chunk {
				switch {
				case !wants(ecu, p), slices.Contains(got, p):
				case len(chunk) > 1 && !refused[ecu]:
					retry[key{ecu, p}] = r
				default:
					failed[key{ecu, p}] = r.why(ecu)
				}
			}
		}
	}
	// One item at a time what the batches left out.
	dead := map[obd.ECU]string{} // ECUs that answered no single request either
	for _, p := range union {
		var need []obd.ECU
		for _, ecu := range ecus {
			if _, ok := retry[key{ecu, p}]; !ok {
				continue
			}
			if why, ok := dead[ecu]; ok {
				failed[key{ecu, p}] = why
				continue
			}
			need = append(need, ecu)
		}
		if len(need) == 0 {
			continue
		}
		req := k.encode([]obd.PID{p})
		s.retried++
		var r reply
		if len(need) == 1 {
			r = s.ask(ctx, obd.Request{Data: req, To: need[0]})
			if _, ok := r.pos[need[0]]; !ok && ctx.Err() == nil {
				// Refused on the physical address: once more on the
				// functional one (some gateways pass only that), keeping
				// the physical answer's reason when this one says less.
				s.retried++
				expect := slices.DeleteFunc(slices.Clone(ecus), func(ecu obd.ECU) bool { return !wants(ecu, p) })
				if f := s.ask(ctx, obd.Request{Data: req, Expect: expect}); f.answered(need[0]) || !r.answered(need[0]) {
					r = f
				}
			}
		} else {
			// Every ECU that supports p answers; wait for them all.
			expect := slices.DeleteFunc(slices.Clone(ecus), func(ecu obd.ECU) bool { return !wants(ecu, p) })
			r = s.ask(ctx, obd.Request{Data: req, Expect: expect})
		}
		if ctx.Err() != nil {
			return
		}
		for _, ecu := range need {
			var got []obd.PID
			if resp, ok := r.pos[ecu]; ok {
				got = k.take(s.ecus[ecu], resp)
			}
			if slices.Contains(got, p) {
				s.learnNoBatch(ecu, retry[key{ecu, p}])
				continue
			}
			failed[key{ecu, p}] = r.why(ecu)
			if !r.answered(ecu) || r.serviceRefused(ecu) {
				dead[ecu] = r.why(ecu)
			}
		}
	}
	for _, ecu := range ecus {
		var lost []obd.PID
		why := ""
		for _, p := range want[ecu] {
			if w, ok := failed[key{ecu, p}]; ok {
				lost = append(lost, p)
				why = w
			}
		}
		switch {
		case len(lost) == 0:
		case refused[ecu] || (len(lost) == len(want[ecu]) && len(lost) > 1 && dead[ecu] != ""):
			// Nothing of the service came back: say so once.
			s.problem("ECU %s: %s not available (%s)", ecu, k.service, why)
		default:
			for _, p := range lost {
				s.problem("ECU %s: %s %s not available (%s)", ecu, k.what, p, failed[key{ecu, p}])
			}
		}
	}
}

// chunks splits items into requests of at most per items (fewer when the
// session says the ECUs take one). An item whose length the decoder does not
// know goes alone: an answer carrying it and another could not be split.
func (s *scanner) chunks(union []obd.PID, ecus []obd.ECU, per int) [][]obd.PID {
	return batches(union, s.sess.perRequest(s.t, ecus, per))
}

// batches groups PIDs into requests of up to n. A PID the decoder does not
// know goes alone: its length is unknown, so an answer carrying it and
// another PID could not be split.
func batches(pids []obd.PID, n int) [][]obd.PID {
	var out, alone [][]obd.PID
	var cur []obd.PID
	for _, p := range pids {
		if _, known := obd.LookupPID(p); !known && n > 1 {
			alone = append(alone, []obd.PID{p})
			continue
		}
		cur = append(cur, p)
		if len(cur) == n {
			out, cur = append(out, cur), nil
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return append(out, alone...)
}

func pidBytes(pids []obd.PID) []byte {
	out := make([]byte, len(pids))
	for i, p := range pids {
		out[i] = byte(p)
	}
	return out
}

// currentData reads every supported Mode 01 PID of every ECU, six per
// request where batching works, each request expecting exactly the ECUs that
// support one of its PIDs.
func (s *scanner) currentData(ctx context.Context) {
	want := map[obd.ECU][]obd.PID{}
	for _, e := range s.sorted() {
		if ps := dataPIDs(e.pids); len(ps) > 0 {
			want[e.addr] = ps
		}
	}
	s.gather(ctx, items{
		svc: 0x01, what: "PID", service: "current data (Mode 01)", per: maxPIDsPerRequest,
		encode: func(list []obd.PID) []byte { return append([]byte{0x01}, pidBytes(list)...) },
		take:   s.decodeCurrent,
	}, want)
}

// decodeCurrent stores the PIDs of a Mode 01 answer and returns them.
func (s *scanner) decodeCurrent(e *ecuState, resp []byte) []obd.PID {
	items, err := splitPIDs(resp)
	if err != nil {
		s.problem("ECU %s: current data: %v", e.addr, err)
		return nil
	}
	var got []obd.PID
	for _, it := range items {
		got = append(got, it.pid)
		if it.pid == 0x01 {
			st, err := obd.DecodeMonitorStatus(it.data)
			if err != nil {
				s.problem("ECU %s: monitor status: %v", e.addr, err)
				continue
			}
			e.status = &st
			continue
		}
		if isRangePID(it.pid) {
			continue
		}
		vals, err := obd.DecodePID(it.pid, it.data)
		if err != nil {
			s.problem("ECU %s: PID %02X: %v", e.addr, byte(it.pid), err)
			continue
		}
		e.live[it.pid] = vals
	}
	return got
}

// troubleCodes reads stored (03), pending (07) and permanent (0A) DTCs. On
// CAN every emission-related ECU answers these, with a count of zero when it
// has none; an ECU that does not answer one of them is listed as a problem
// (older vehicles have no Mode 0A).
func (s *scanner) troubleCodes(ctx context.Context) {
	for _, svc := range []byte{0x03, 0x07, 0x0A} {
		expect := s.all()
		r := s.ask(ctx, obd.Request{Data: []byte{svc}, Expect: expect})
		if ctx.Err() != nil {
			return
		}
		for _, ecu := range expect {
			resp, ok := r.pos[ecu]
			if !ok {
				s.problem("ECU %s: %s DTCs (service %02X) not available (%s)", ecu, dtcKind[svc], svc, r.why(ecu))
				continue
			}
			e := s.ecus[ecu]
			dtcs, err := obd.ParseDTCs(resp)
			if err != nil {
				s.problem("ECU %s: service %02X: %v", ecu, svc, err)
				continue
			}
			switch svc {
			case 0x03:
				e.stored = dtcs
			case 0x07:
				e.pending = dtcs
			case 0x0A:
				e.permanent = dtcs
			}
		}
	}
}

var dtcKind = map[byte]string{0x03: "stored", 0x07: "pending", 0x0A: "permanent"}

// freezeFrame reads frame 0 from the ECUs that stored one: those whose PID 02
// names a DTC or, when PID 02 is not supported, those with stored DTCs.
func (s *scanner) freezeFrame(ctx context.Context) {
	want := map[obd.ECU][]obd.PID{}
	for _, e := range s.sorted() {
		has := len(e.stored) > 0
		if v, ok := e.live[0x02]; ok {
			has = len(v) > 0 && v[0].Value != 0
		}
		if has {
			// Supported PIDs of frame 0 and the DTC that stored it.
			want[e.addr] = []obd.PID{0x00, 0x02}
		}
	}
	if len(want) == 0 {
		return
	}
	k := items{
		svc: 0x02, what: "freeze frame PID", service: "freeze frame (Mode 02)", per: maxFreezePairs,
		encode: func(list []obd.PID) []byte {
			req := []byte{0x02}
			for _, p := range list {
				req = append(req, byte(p), 0x00)
			}
			return req
		},
		take: s.decodeFreeze,
	}
	s.gather(ctx, k, want)
	for base := obd.PID(0x20); base <= 0xE0; base += 0x20 {
		expect := s.which(func(e *ecuState) bool { return e.freeze.Has(base) })
		if len(expect) == 0 {
			break
		}
		r := s.ask(ctx, obd.Request{Data: []byte{0x02, byte(base), 0x00}, Expect: expect})
		for _, ecu := range expect {
			if resp, ok := r.pos[ecu]; ok {
				s.decodeFreeze(s.ecus[ecu], resp)
			} else {
				s.problem("ECU %s: freeze frame PIDs %s-%s not available (%s)", ecu, base+1, base+0x20, r.why(ecu))
			}
		}
	}
	want = map[obd.ECU][]obd.PID{}
	for _, e := range s.sorted() {
		ps := slices.DeleteFunc(dataPIDs(e.freeze), func(p obd.PID) bool { return p == 0x02 })
		if len(ps) > 0 {
			want[e.addr] = ps
		}
	}
	s.gather(ctx, k, want)
}

// decodeFreeze stores the frame-0 items of a Mode 02 answer and returns
// their PIDs.
func (s *scanner) decodeFreeze(e *ecuState, resp []byte) []obd.PID {
	items, err := obd.ParseFreezeFrameResponse(resp)
	if err != nil {
		s.problem("ECU %s: freeze frame: %v", e.addr, err)
		return nil
	}
	var got []obd.PID
	for _, it := range items {
		if it.Frame != 0 {
			continue
		}
		got = append(got, it.PID)
		switch {
		case isRangePID(it.PID):
			sup, err := obd.DecodeSupported(it.PID, it.Data)
			if err != nil {
				s.problem("ECU %s: freeze frame PIDs: %v", e.addr, err)
				continue
			}
			e.freeze.Merge(sup)
		case it.PID == 0x02:
			if len(it.Data) == 2 && (it.Data[0] != 0 || it.Data[1] != 0) {
				e.freezeDTC = obd.DecodeDTC(it.Data[0], it.Data[1])
			}
		default:
			vals, err := obd.DecodePID(it.PID, it.Data)
			if err != nil {
				s.problem("ECU %s: freeze frame PID %02X: %v", e.addr, byte(it.PID), err)
				continue
			}
			e.freezeVal = append(e.freezeVal, vals...)
		}
	}
	return got
}

// infoNames are the Mode 09 InfoTypes the snapshot reads, in the order it
// asks for them.
var infoNames = []struct {
	it   obd.PID
	name string
}{
	{obd.InfoVIN, "VIN"},
	{obd.InfoCALID, "CALID"},
	{obd.InfoCVN, "CVN"},
	{obd.InfoECUName, "ECU name"},
	{obd.InfoIUPRSpark, "IUPR"},
	{obd.InfoIUPRCompressed, "IUPR"},
}

// vehicleInfo reads Mode 09: the supported InfoTypes, then each InfoType the
// scan needs from exactly the ECUs that support it (one InfoType per
// request, as ISO 15765-4 requires). An ECU whose 09 00 brought nothing
// usable is asked for each InfoType directly, and so is every ECU for the
// VIN when no 09 00 lists it: some ECUs refuse 09 00 but answer 09 02.
func (s *scanner) vehicleInfo(ctx context.Context) {
	all := s.all()
	r := s.ask(ctx, obd.Request{Data: []byte{0x09, 0x00}, Expect: all})
	if ctx.Err() != nil {
		return
	}
	infoWhy := map[obd.ECU]string{} // why an ECU's 09 00 is of no use
	for _, ecu := range all {
		e := s.ecus[ecu]
		resp, ok := r.pos[ecu]
		if !ok {
			infoWhy[ecu] = r.why(ecu)
			continue
		}
		set, err := obd.ParseSupportedInfoTypes(resp)
		switch {
		case err != nil:
			infoWhy[ecu] = err.Error()
		case set.Len() == 0:
			infoWhy[ecu] = "empty list"
		default:
			e.infoTypes, e.infoKnown = set, true
		}
	}
	direct := s.which(func(e *ecuState) bool { return !e.infoKnown })
	vinListed := len(s.which(func(e *ecuState) bool { return e.infoTypes.Has(obd.InfoVIN) })) > 0
	missed := map[obd.ECU][]string{} // directly asked InfoTypes an ECU did not answer
	for _, in := range infoNames {
		expect := s.which(func(e *ecuState) bool {
			switch {
			case e.infoKnown:
				return e.infoTypes.Has(in.it)
			case in.it == obd.InfoIUPRSpark:
				return e.status == nil || e.status.Ignition != obd.IgnitionCompression
			case in.it == obd.InfoIUPRCompressed:
				return e.status == nil || e.status.Ignition == obd.IgnitionCompression
			}
			return true
		})
		if in.it == obd.InfoVIN && !vinListed {
			expect = all
		}
		if len(expect) == 0 {
			continue
		}
		r := s.ask(ctx, obd.Request{Data: []byte{0x09, byte(in.it)}, Expect: expect})
		if ctx.Err() != nil {
			return
		}
		for _, ecu := range expect {
			e := s.ecus[ecu]
			resp, ok := r.pos[ecu]
			switch {
			case ok:
				if err := decodeInfo(e, in.it, resp); err != nil {
					s.problem("ECU %s: %s (InfoType %s): %v", ecu, in.name, in.it, err)
				}
			case e.infoKnown && e.infoTypes.Has(in.it):
				s.problem("ECU %s: %s (InfoType %s) not available (%s)", ecu, in.name, in.it, r.why(ecu))
			case e.infoKnown:
				// Asked for the VIN that no list names; it said it has none.
			default:
				missed[ecu] = append(missed[ecu], in.name)
			}
		}
	}
	for _, ecu := range direct {
		msg := fmt.Sprintf("ECU %s: supported InfoTypes (09 00) not available (%s); asked each directly", ecu, infoWhy[ecu])
		if m := slices.Compact(missed[ecu]); len(m) > 0 {
			msg += fmt.Sprintf(", no answer for: %v", m)
		}
		s.problem("%s", msg)
	}
}

// testResults reads Mode 06 on CAN (K-line and J1850 ECUs answer it in
// another layout, not read here): the supported MIDs (06 00, then the
// further ranges as for Mode 01), then each supported monitor's tests, one
// MID per request as SAE J1979 requires, from exactly the ECUs that list
// it. An ECU without Mode 06 stays silent or refuses it; that is no
// problem, but a monitor listed and not answered is. The session remembers
// the ECUs without it: later scans on the link do not ask them.
func (s *scanner) testResults(ctx context.Context) {
	if l, ok := s.t.(limiter); ok && l.MaxPIDs() == 1 {
		return
	}
	all := s.sess.withoutTests(s.all())
	if len(all) == 0 {
		return
	}
	r := s.ask(ctx, obd.Request{Data: []byte{0x06, 0x00}, Expect: all})
	if ctx.Err() != nil {
		return
	}
	for _, ecu := range all {
		resp, ok := r.pos[ecu]
		if !ok {
			if r.serviceRefused(ecu) || (!r.answered(ecu) && len(r.pos) > 0) {
				s.sess.hasNoTests(ecu) // silent while another answered, or refused
			}
			continue
		}
		if _, err := mergeSupported(&s.ecus[ecu].mids, resp); err != nil {
			s.problem("ECU %s: supported monitors (Mode 06): %v", ecu, err)
		}
	}
	s.ranges(ctx, 0x06, func(e *ecuState) *obd.PIDSet { return &e.mids }, "supported monitors (Mode 06)")
	want := map[obd.ECU][]obd.PID{}
	for _, e := range s.sorted() {
		if ps := dataPIDs(e.mids); len(ps) > 0 {
			want[e.addr] = ps
		}
	}
	s.gather(ctx, items{
		svc: 0x06, what: "monitor", service: "on-board test results (Mode 06)", per: 1,
		encode: func(list []obd.PID) []byte { return append([]byte{0x06}, pidBytes(list)...) },
		take: func(e *ecuState, resp []byte) []obd.PID {
			tests, err := obd.ParseTestResults(resp)
			if err != nil {
				s.problem("ECU %s: on-board test results (Mode 06): %v", e.addr, err)
			}
			if len(tests) == 0 {
				return nil
			}
			e.tests = append(e.tests, tests...)
			return []obd.PID{tests[0].MID}
		},
	}, want)
}

func decodeInfo(e *ecuState, it obd.PID, resp []byte) error {
	var err error
	switch it {
	case obd.InfoVIN:
		e.vin, err = obd.ParseVIN(resp)
	case obd.InfoCALID:
		e.calids, err = obd.ParseCALIDs(resp)
	case obd.InfoCVN:
		e.cvns, err = obd.ParseCVNs(resp)
	case obd.InfoECUName:
		var name obd.ECUName
		name, err = obd.ParseECUName(resp)
		e.name = name.String()
	case obd.InfoIUPRSpark, obd.InfoIUPRCompressed:
		var iupr obd.IUPR
		iupr, err = obd.ParseIUPR(resp)
		if err == nil {
			e.iupr = &iupr
		}
	}
	return err
}

func sortedKeys[V any](m map[obd.ECU]V) []obd.ECU {
	out := make([]obd.ECU, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
