package uplink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/bayagent/bayagent/agent/internal/repeats"
)

// conn is one MQTT connection (one paho client). Its context ends when the
// connection is lost or closed; nothing completed after that is trusted.
type conn struct {
	client  mqtt.Client
	ctx     context.Context
	lose    context.CancelCauseFunc
	session string
}

// flight is a published record waiting for its PUBACK.
type flight struct {
	seq uint64
	tok mqtt.Token
}

// Run connects, publishes records from the queue, serves commands and live
// data, and reconnects with backoff until ctx ends; then it shuts down as
// described in the package doc and returns nil once every goroutine it
// started has stopped. Run may be called once.
func (u *Uplink) Run(ctx context.Context) error {
	if !u.started.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	if u.opts.AllowPlaintext || u.opts.InsecureSkipVerify {
		u.log.Warn("uplink: development mode, broker connection not verified",
			"allow_plaintext", u.opts.AllowPlaintext, "insecure_skip_verify", u.opts.InsecureSkipVerify)
	}
	// grace ends ShutdownTimeout after ctx: the budget of the graceful part.
	grace, cancelGrace := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelGrace()
	stopGrace := context.AfterFunc(ctx, func() { time.AfterFunc(u.opts.ShutdownTimeout, cancelGrace) })
	defer stopGrace()

	var bg sync.WaitGroup
	bg.Go(func() { u.commandLoop(ctx, grace) })
	bg.Go(func() { u.liveLoop(ctx) })
	bg.Go(func() { u.statusLoop(ctx) })

	bo := backoff{min: u.opts.BackoffMin, max: u.opts.BackoffMax}
	connLog := repeats.New(u.log, "uplink", 0, nil)
	everConnected := false
	for ctx.Err() == nil {
		c, err := u.dial(ctx)
		if err == nil {
			start := time.Now()
			if err = u.setup(ctx, c); err == nil {
				if everConnected {
					u.reconnects.Add(1)
				}
				everConnected = true
				connLog.OK()
				u.log.Info("uplink: connected", "broker", u.broker, "session", c.session)
				u.setConn(c)
				err = u.pump(ctx, grace, c)
			}
			if ctx.Err() != nil && c.ctx.Err() == nil {
				bg.Wait() // commands answered, replies sent, live and status stopped
				u.goodbye(grace, c)
			}
			u.setConn(nil)
			if err == nil {
				err = context.Cause(c.ctx)
			}
			c.lose(nil)
			c.client.Disconnect(100)
			if time.Since(start) > 10*u.opts.BackoffMin {
				bo.reset()
			}
		}
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			connLog.Fail(err) // a broker that stays down is logged once, then summarised
			u.setErr(err)
		}
		if bo.wait(ctx) != nil {
			break
		}
	}
	bg.Wait()
	u.log.Info("uplink: stopped")
	return nil
}

func (u *Uplink) setConn(c *conn) {
	u.mu.Lock()
	u.cur = c
	u.since = time.Time{}
	if c != nil {
		u.since = time.Now()
	}
	u.notifyLocked()
	u.mu.Unlock()
}

func (u *Uplink) current() *conn {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.cur
}

// waitConn returns the current connection, waiting for one until ctx ends
// (then nil).
func (u *Uplink) waitConn(ctx context.Context) *conn {
	for {
		u.mu.Lock()
		c, ch := u.cur, u.changed
		u.mu.Unlock()
		if c != nil && c.ctx.Err() == nil {
			return c
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil
		}
	}
}

// wait waits for tok, the connection's end or ctx's end, and returns
// tok's error, ErrConnectionLost's cause or ctx's error.
func wait(ctx context.Context, c *conn, tok mqtt.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-c.ctx.Done():
		return context.Cause(c.ctx)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func newSession() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// dial opens an MQTT connection (CONNECT, CONNACK).
func (u *Uplink) dial(ctx context.Context) (*conn, error) {
	cctx, lose := context.WithCancelCause(context.Background())
	c := &conn{ctx: cctx, lose: lose, session: newSession()}
	o := mqtt.NewClientOptions().
		AddBroker(u.broker).
		SetClientID(u.opts.ClientID).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(u.opts.KeepAlive).
		SetPingTimeout(u.opts.ConnectTimeout).
		SetConnectTimeout(u.opts.ConnectTimeout).
		SetWriteTimeout(u.opts.ConnectTimeout).
		SetCustomOpenConnectionFn(dialer(u.tls, u.opts.ConnectTimeout, u.maxPublish(), func(topic string, size int) {
			u.log.Warn("uplink: a message too large to read was thrown away unread", "topic", topic, "bytes", size, "limit", u.opts.MaxCommandBytes)
		})).
		SetStore(nullStore{}).
		SetOrderMatters(true).
		SetBinaryWill(u.topics.Status, u.willPayload(c.session), 1, true).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			lose(fmt.Errorf("%w: %v", ErrConnectionLost, err))
		})
	if u.opts.Username != "" {
		o.SetUsername(u.opts.Username)
		if u.opts.PasswordEnv != "" {
			o.SetPassword(u.password)
		}
	}
	c.client = mqtt.NewClient(o)
	tok := c.client.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		// Let paho finish or abandon the attempt before leaving.
		c.client.Disconnect(0)
		tok.WaitTimeout(u.opts.ConnectTimeout)
		lose(ctx.Err())
		return nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		if hint := u.connectHint(err); hint != "" {
			err = fmt.Errorf("%w %s: %w (%s)", ErrConnect, u.broker, err, hint)
		} else {
			err = fmt.Errorf("%w %s: %w", ErrConnect, u.broker, err)
		}
		lose(err)
		c.client.Disconnect(0)
		return nil, err
	}
	return c, nil
}

// setup subscribes to the command topic, then runs the write probe (or
// just publishes "online"): afterwards the connection is ready for records.
// The subscription comes first so that a command sent as soon as "online"
// is seen is not lost.
func (u *Uplink) setup(ctx context.Context, c *conn) error {
	if err := u.subscribe(ctx, c, u.topics.Cmd, func(_ mqtt.Client, m mqtt.Message) { u.onCommand(c, m) }); err != nil {
		return err
	}
	if !u.opts.SkipWriteProbe {
		return u.probe(ctx, c)
	}
	if err := wait(ctx, c, c.client.Publish(u.topics.Status, 1, true, u.statusPayload("online", c.session, ""))); err != nil {
		return fmt.Errorf("%w: status: %w", ErrPublish, err)
	}
	return nil
}

func (u *Uplink) subscribe(ctx context.Context, c *conn, topic string, h mqtt.MessageHandler) error {
	sctx, cancel := context.WithTimeout(ctx, u.opts.ConnectTimeout)
	defer cancel()
	tok := c.client.Subscribe(topic, 1, h)
	if err := wait(sctx, c, tok); err != nil {
		return fmt.Errorf("%w: subscribe %s: %w", ErrConnect, topic, err)
	}
	if st, ok := tok.(*mqtt.SubscribeToken); ok {
		if q, ok := st.Result()[topic]; ok && q > 2 {
			return fmt.Errorf("%w: %s (return code %#x)", ErrSubscribeDenied, topic, q)
		}
	}
	return nil
}

// probe publishes "online" and waits to receive it back on the status
// topic (see "Write probe" in the package doc).
func (u *Uplink) probe(ctx context.Context, c *conn) error {
	echo := make(chan struct{})
	var once sync.Once
	err := u.subscribe(ctx, c, u.topics.Status, func(_ mqtt.Client, m mqtt.Message) {
		var s struct {
			Session string `json:"session"`
		}
		if json.Unmarshal(m.Payload(), &s) == nil && s.Session == c.session {
			once.Do(func() { close(echo) })
		}
	})
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, u.opts.ProbeTimeout)
	defer cancel()
	if err := wait(pctx, c, c.client.Publish(u.topics.Status, 1, true, u.statusPayload("online", c.session, ""))); err != nil {
		return fmt.Errorf("%w: status: %w", ErrPublish, err)
	}
	select {
	case <-echo:
	case <-c.ctx.Done():
		// Some brokers (Mosquitto 2.0.11) close the connection of a client
		// whose publish the ACL denied.
		return fmt.Errorf("%w (probably): the connection closed while waiting for the status probe (%w); %s",
			ErrWriteDenied, context.Cause(c.ctx), u.aclHint())
	case <-pctx.Done():
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: the broker acknowledged %s but did not deliver it back within %v; %s",
			ErrWriteDenied, u.topics.Status, u.opts.ProbeTimeout, u.aclHint())
	}
	uctx, cancel2 := context.WithTimeout(ctx, u.opts.ConnectTimeout)
	defer cancel2()
	if err := wait(uctx, c, c.client.Unsubscribe(u.topics.Status)); err != nil {
		return fmt.Errorf("%w: unsubscribe %s: %w", ErrConnect, u.topics.Status, err)
	}
	return nil
}

func (u *Uplink) aclHint() string {
	return fmt.Sprintf("check that the client certificate / user name belongs to device %q of shop %q and that the broker ACL "+
		"lets it write %s/# and read %s; no record is published meanwhile",
		u.opts.Device, u.opts.Shop, u.topics.Root, u.topics.Status)
}

// statusPayload builds the status object.
func (u *Uplink) statusPayload(state, session, reason string) []byte {
	m := map[string]any{}
	if u.opts.Status != nil {
		for k, v := range u.opts.Status() {
			m[k] = v
		}
	}
	m["state"], m["device"], m["shop"], m["session"] = state, u.opts.Device, u.opts.Shop, session
	m["time"] = time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	if reason != "" {
		m["reason"] = reason
	}
	b, err := json.Marshal(m)
	if err != nil {
		u.log.Warn("uplink: status fields cannot be encoded; publishing the minimal status", "err", err)
		b, _ = json.Marshal(map[string]string{"state": state, "device": u.opts.Device, "shop": u.opts.Shop, "session": session, "reason": reason})
	}
	return b
}

func (u *Uplink) willPayload(session string) []byte {
	b, _ := json.Marshal(map[string]string{"state": "offline", "device": u.opts.Device, "shop": u.opts.Shop,
		"session": session, "reason": "connection lost"})
	return b
}

// goodbye publishes the retained "offline" status before a graceful
// disconnect.
func (u *Uplink) goodbye(grace context.Context, c *conn) {
	if err := wait(grace, c, c.client.Publish(u.topics.Status, 1, true, u.statusPayload("offline", c.session, "shutdown"))); err != nil {
		u.log.Warn("uplink: offline status not acknowledged; the broker will publish the last will", "err", err)
	}
	c.client.Disconnect(100)
}

// pump publishes records on c until the connection ends, ctx ends or the
// queue fails. After ctx ends it keeps acking records in flight until grace
// ends.
func (u *Uplink) pump(ctx, grace context.Context, c *conn) error {
	n := u.opts.InFlight
	flights := make(chan flight, n)
	slots := make(chan struct{}, n)
	for range n {
		slots <- struct{}{}
	}
	actx, stopAcks := context.WithCancel(c.ctx)
	defer stopAcks()
	// PUBACKs free the window at once; removing the acknowledged records
	// (a queue commit) happens beside it, many at a time.
	acks := make(chan []uint64, n)
	var wg sync.WaitGroup
	wg.Go(func() { u.acker(acks) })
	wg.Go(func() {
		defer close(acks)
		u.ackLoop(actx, c, flights, slots, acks)
	})
	err := u.feed(ctx, c, flights, slots)
	close(flights)
	switch {
	case err != nil:
		c.lose(err) // everything unacknowledged goes again on the next connection
	case ctx.Err() != nil:
		stop := context.AfterFunc(grace, stopAcks)
		defer stop()
	}
	wg.Wait()
	return err
}

// feed takes records from the queue while the window has room and
// publishes them.
func (u *Uplink) feed(ctx context.Context, c *conn, flights chan<- flight, slots chan struct{}) error {
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel)
	defer stop()
	release := func(k int) {
		for range k {
			slots <- struct{}{}
		}
	}
	var cursor uint64
	for {
		select {
		case <-slots:
		case <-fctx.Done():
			return nil
		}
		k := 1
	more:
		for k < cap(slots) {
			select {
			case <-slots:
				k++
			default:
				break more
			}
		}
		items, err := u.q.Next(fctx, cursor, k)
		if err != nil {
			release(k)
			if fctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%w: next after %d: %w", ErrQueue, cursor, err)
		}
		if len(items) == 0 || len(items) > k {
			release(k)
			return fmt.Errorf("%w: Next returned %d items, asked for %d", ErrQueue, len(items), k)
		}
		release(k - len(items))
		for i, it := range items {
			if it.Seq <= cursor {
				release(len(items) - i)
				return fmt.Errorf("%w: Next returned seq %d after %d (not ascending)", ErrQueue, it.Seq, cursor)
			}
			cursor = it.Seq
			if reason := u.unpublishable(it); reason != "" {
				release(1)
				u.quarantine(it.Seq, reason)
				continue
			}
			tok := c.client.Publish(u.topics.Records, 1, false, it.Payload)
			u.published.Add(1)
			flights <- flight{seq: it.Seq, tok: tok}
		}
	}
}

func (u *Uplink) unpublishable(it Item) string {
	switch {
	case len(it.Payload) == 0:
		return "empty payload"
	case len(it.Payload) > u.opts.MaxPayload:
		return fmt.Sprintf("payload of %d bytes exceeds the broker limit of %d bytes", len(it.Payload), u.opts.MaxPayload)
	}
	return ""
}

func (u *Uplink) quarantine(seq uint64, reason string) {
	u.log.Warn("uplink: record quarantined", "seq", seq, "reason", reason)
	if err := u.q.Quarantine(seq, reason); err != nil {
		err = fmt.Errorf("%w: quarantine %d: %w", ErrQueue, seq, err)
		u.log.Warn("uplink", "err", err)
		u.setErr(err)
		return
	}
	u.quarantined.Add(1)
}

// acker removes acknowledged records from the queue: whatever batches are
// waiting go into one Ack, so one queue commit serves many PUBACKs. It
// returns when acks is closed and everything in it is acked.
func (u *Uplink) acker(acks <-chan []uint64) {
	for batch := range acks {
		seqs := batch
	more:
		for {
			select {
			case b, ok := <-acks:
				if !ok {
					break more
				}
				seqs = append(seqs, b...)
			default:
				break more
			}
		}
		if err := u.q.Ack(seqs...); err != nil {
			err = fmt.Errorf("%w: ack %d records: %w", ErrQueue, len(seqs), err)
			u.log.Warn("uplink", "err", err)
			u.setErr(err)
			continue
		}
		u.acked.Add(uint64(len(seqs)))
		u.mu.Lock()
		u.lastAck = time.Now()
		u.mu.Unlock()
		u.NotifyStatus() // the outbox depth and last upload changed
	}
}

func done(t mqtt.Token) bool {
	select {
	case <-t.Done():
		return true
	default:
		return false
	}
}

// ackLoop waits for the PUBACKs of flights in publish order and hands the
// acknowledged records to acker in batches (every completed flight at hand).
// Once ctx ends (the connection is lost) completions are no longer trusted:
// those records stay in the queue and go again on the next connection.
func (u *Uplink) ackLoop(ctx context.Context, c *conn, flights <-chan flight, slots chan<- struct{}, acks chan<- []uint64) {
	var (
		held    flight
		holding bool
		seqs    []uint64
	)
	for {
		f := held
		if holding {
			holding = false
		} else {
			var ok bool
			select {
			case f, ok = <-flights:
				if !ok {
					return
				}
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-f.tok.Done():
		case <-ctx.Done():
			return
		}
		seqs = seqs[:0]
		n, closed := 0, false
		var failed error
	collect:
		for {
			n++
			if err := f.tok.Error(); err != nil {
				failed = fmt.Errorf("%w: record %d: %w", ErrPublish, f.seq, err)
				break
			}
			seqs = append(seqs, f.seq)
			select {
			case g, ok := <-flights:
				switch {
				case !ok:
					closed = true
					break collect
				case done(g.tok):
					f = g
				default:
					held, holding = g, true
					break collect
				}
			default:
				break collect
			}
		}
		if ctx.Err() != nil {
			return
		}
		if len(seqs) > 0 {
			acks <- slices.Clone(seqs)
		}
		if failed != nil {
			c.lose(failed)
			return
		}
		for range n {
			slots <- struct{}{}
		}
		if closed {
			return
		}
	}
}

// statusLoop publishes "online" again every StatusInterval and on
// NotifyStatus.
func (u *Uplink) statusLoop(ctx context.Context) {
	var tick <-chan time.Time
	if u.opts.StatusInterval > 0 {
		t := time.NewTicker(u.opts.StatusInterval)
		defer t.Stop()
		tick = t.C
	}
	var (
		last    time.Time
		delayed <-chan time.Time // a NotifyStatus that came too soon
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		case <-delayed:
			delayed = nil
		case <-u.status:
			if gap := time.Since(last); gap < minStatusGap {
				if delayed == nil {
					delayed = time.After(minStatusGap - gap)
				}
				continue
			}
		}
		c := u.current()
		if c == nil {
			continue
		}
		last = time.Now()
		if err := wait(ctx, c, c.client.Publish(u.topics.Status, 1, true, u.statusPayload("online", c.session, ""))); err != nil && ctx.Err() == nil {
			u.log.Warn("uplink: status not published", "err", err)
		}
	}
}

// minStatusGap bounds how often NotifyStatus publishes the status: acks and
// stored records may ask many times a second.
const minStatusGap = time.Second

// liveLoop sends the samples PublishLive queued.
func (u *Uplink) liveLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-u.live:
			c := u.current()
			if c == nil {
				u.liveDropped.Add(1)
				continue
			}
			c.client.Publish(u.topics.Live, byte(u.opts.LiveQoS), false, p)
			u.liveSent.Add(1)
		}
	}
}
