package uplink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// command is a parsed command envelope.
type command struct {
	ID   string
	Name string
	Args json.RawMessage // a JSON object, or nil when absent or null
	// RawArgs are the args member exactly as sent ("null" included; nil
	// when absent): what a signature covers.
	RawArgs json.RawMessage
	// The signature members (see Envelope).
	TS, Nonce, Key, Sig string
}

// Envelope is a command as Options.Authorise sees it: the members of the
// envelope, the args exactly as sent (nil when absent) and the signature
// members ts, nonce, key and sig ("" when absent).
type Envelope struct {
	ID, Name            string
	Args                json.RawMessage
	TS, Nonce, Key, Sig string
}

// Limits of the command envelope.
const (
	maxIDLen     = 128
	maxNameLen   = 64
	maxSigMember = 256
)

// parseCommand parses a command envelope strictly: one JSON object with the
// members "id" and "cmd" (strings), optionally "args" (an object or null)
// and the signature members "ts", "nonce", "key" and "sig" (strings of at
// most 256 bytes), nothing else, no duplicates, no trailing data. On error the
// returned command carries the id when one could be read, for the reply.
func parseCommand(b []byte, maxBytes int) (command, error) {
	var cmd command
	if len(b) > maxBytes {
		return cmd, fmt.Errorf("%w: %d bytes, limit %d", ErrCommandTooLarge, len(b), maxBytes)
	}
	cmd.ID = bestEffortID(b)
	if len(bytes.TrimSpace(b)) == 0 {
		return cmd, fmt.Errorf("%w: empty payload", ErrCommandSyntax)
	}
	if !utf8.Valid(b) {
		return cmd, fmt.Errorf("%w: payload is not valid UTF-8", ErrCommandSyntax)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return cmd, fmt.Errorf("%w: %v", ErrCommandSyntax, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return cmd, fmt.Errorf("%w: payload must be a JSON object", ErrCommandSyntax)
	}
	var seenID, seenCmd, seenArgs bool
	seenSig := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return cmd, fmt.Errorf("%w: %v", ErrCommandSyntax, err)
		}
		key, ok := tok.(string)
		if !ok {
			return cmd, fmt.Errorf("%w: object key expected", ErrCommandSyntax)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return cmd, fmt.Errorf("%w: member %q: %v", ErrCommandSyntax, key, err)
		}
		var seen *bool
		switch key {
		case "id":
			seen = &seenID
		case "cmd":
			seen = &seenCmd
		case "args":
			seen = &seenArgs
		case "ts", "nonce", "key", "sig":
			if seenSig[key] {
				return cmd, fmt.Errorf("%w: duplicate member %q", ErrCommandField, key)
			}
			seenSig[key] = true
			v, err := stringMember(key, raw)
			if err == nil && len(v) > maxSigMember {
				err = fmt.Errorf("%w: %q must be at most %d bytes", ErrCommandField, key, maxSigMember)
			}
			if err != nil {
				return cmd, err
			}
			switch key {
			case "ts":
				cmd.TS = v
			case "nonce":
				cmd.Nonce = v
			case "key":
				cmd.Key = v
			default:
				cmd.Sig = v
			}
			continue
		default:
			return cmd, fmt.Errorf("%w: unknown member %q (allowed: id, cmd, args, ts, nonce, key, sig)", ErrCommandField, truncate(key, 64))
		}
		if *seen {
			return cmd, fmt.Errorf("%w: duplicate member %q", ErrCommandField, key)
		}
		*seen = true
		switch key {
		case "id":
			if cmd.ID, err = stringMember("id", raw); err == nil {
				err = validID(cmd.ID)
			}
			if err != nil {
				cmd.ID = ""
				return cmd, err
			}
		case "cmd":
			if cmd.Name, err = stringMember("cmd", raw); err == nil {
				err = validName(cmd.Name)
			}
			if err != nil {
				return cmd, err
			}
		case "args":
			cmd.RawArgs = raw
			switch raw[0] {
			case '{':
				cmd.Args = raw
			case 'n':
				cmd.Args = nil
			default:
				return cmd, fmt.Errorf("%w: \"args\" must be a JSON object", ErrCommandField)
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return cmd, fmt.Errorf("%w: %v", ErrCommandSyntax, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return cmd, fmt.Errorf("%w: trailing data after the JSON object", ErrCommandSyntax)
	}
	switch {
	case !seenID:
		return cmd, fmt.Errorf("%w: missing member \"id\"", ErrCommandField)
	case !seenCmd:
		return cmd, fmt.Errorf("%w: missing member \"cmd\"", ErrCommandField)
	}
	return cmd, nil
}

func stringMember(name string, raw json.RawMessage) (string, error) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", fmt.Errorf("%w: %q must be a JSON string", ErrCommandField, name)
	}
	return s, nil
}

func validID(s string) error {
	if len(s) == 0 || len(s) > maxIDLen {
		return fmt.Errorf("%w: \"id\" must be 1 to %d characters, got %d", ErrCommandField, maxIDLen, len(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return fmt.Errorf("%w: \"id\" must be printable ASCII (byte %d is %#x)", ErrCommandField, i, s[i])
		}
	}
	return nil
}

func validName(s string) error {
	if len(s) == 0 || len(s) > maxNameLen {
		return fmt.Errorf("%w: \"cmd\" must be 1 to %d characters, got %d", ErrCommandField, maxNameLen, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '_')) {
			return fmt.Errorf("%w: \"cmd\" must match [a-z][a-z0-9_]*: %q", ErrCommandField, truncate(s, 64))
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// bestEffortID reads the "id" member of an envelope that may be invalid
// otherwise, so that an error reply can name the command; "" if there is
// no usable id.
func bestEffortID(b []byte) string {
	var v struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(b, &v) != nil {
		return ""
	}
	id, err := stringMember("id", v.ID)
	if err != nil || validID(id) != nil {
		return ""
	}
	return id
}

// maxPublish is the largest PUBLISH packet (remaining length) the
// connection hands paho whole: a command of MaxCommandBytes on the
// longest topic the uplink subscribes to.
func (u *Uplink) maxPublish() int {
	return u.opts.MaxCommandBytes + 4 + max(len(u.topics.Cmd), len(u.topics.Status))
}

// inbound is a command message as received.
type inbound struct {
	payload  []byte
	size     int
	retained bool
}

// onCommand runs in paho's delivery goroutine: it must not block (PUBACKs
// are processed there too). It queues the command, or answers ErrBusy
// right away when the queue is full.
func (u *Uplink) onCommand(c *conn, m mqtt.Message) {
	if len(m.Payload()) == 0 {
		return // a retained command being cleared, not a command
	}
	in := inbound{size: len(m.Payload()), retained: m.Retained()}
	if s, ok := bytes.CutPrefix(m.Payload(), []byte(tooLargeMarker)); ok {
		in.size, _ = strconv.Atoi(string(s)) // thrown away unread by the connection's limitReader
	}
	if in.size <= u.opts.MaxCommandBytes {
		in.payload = append([]byte(nil), m.Payload()...)
	}
	select {
	case u.inbox <- in:
	default:
		id := ""
		if in.payload != nil {
			id = bestEffortID(in.payload)
		}
		u.log.Warn("uplink: command refused, queue full", "id", id)
		u.commands.Add(1)
		c.client.Publish(u.topics.Reply, 1, false, u.encodeReply(ErrorReply(id, ErrBusy)))
	}
}

// pending is a command read from the inbox, parsed, waiting in its lane.
type pending struct {
	cmd      command
	err      error // the envelope's problem; the command is not run
	retained bool
}

func (u *Uplink) parse(in inbound) pending {
	p := pending{retained: in.retained}
	if in.payload == nil {
		p.err = fmt.Errorf("%w: %d bytes, limit %d", ErrCommandTooLarge, in.size, u.opts.MaxCommandBytes)
	} else {
		p.cmd, p.err = parseCommand(in.payload, u.opts.MaxCommandBytes)
	}
	return p
}

// commandLoop hands each command, in arrival order, to its lane (see
// Commander.Lane): one goroutine per lane runs that lane's commands one at
// a time and sends their replies, so a command that waits for a device
// holds up only its own lane. Envelopes that cannot run are answered from
// a lane of their own. A command whose lane has Options.CommandQueue
// commands waiting already is answered ErrBusy. When ctx ends, waiting
// commands are answered with ErrShuttingDown, running ones see ctx end,
// and the loop returns once every lane has sent its replies (until grace
// ends).
func (u *Uplink) commandLoop(ctx, grace context.Context) {
	lanes := map[string]chan pending{}
	var wg sync.WaitGroup
	defer func() {
		for _, ch := range lanes {
			close(ch)
		}
		wg.Wait()
	}()
	for {
		select {
		case in := <-u.inbox:
			p := u.parse(in)
			if p.err == nil && !p.retained {
				if reply, seen := u.ids.see(p.cmd.ID); seen {
					u.commands.Add(1)
					if reply == nil {
						u.log.Warn("uplink: command id seen again while it runs: not run again", "id", p.cmd.ID, "cmd", p.cmd.Name)
						continue
					}
					u.log.Warn("uplink: command id seen before: its reply is sent again, the command is not run again", "id", p.cmd.ID, "cmd", p.cmd.Name)
					if c := u.current(); c != nil {
						c.client.Publish(u.topics.Reply, 1, false, reply)
					}
					continue
				}
			}
			lane := ""
			if p.err == nil {
				lane = "lane:" + u.cmds.Lane(p.cmd.Name)
			}
			ch, ok := lanes[lane]
			if !ok {
				ch = make(chan pending, u.opts.CommandQueue)
				lanes[lane] = ch
				wg.Go(func() {
					for p := range ch {
						r, ran := u.runCommand(ctx, p)
						if ran {
							u.ids.done(p.cmd.ID, u.encodeReply(r))
						} else if p.err == nil && !p.retained {
							u.ids.forget(p.cmd.ID) // not run: the same id may come again
						}
						u.sendReply(grace, r)
					}
				})
			}
			select {
			case ch <- p:
			default:
				u.log.Warn("uplink: command refused, its lane is full", "id", p.cmd.ID, "cmd", p.cmd.Name, "lane", lane)
				if p.err == nil && !p.retained {
					u.ids.forget(p.cmd.ID)
				}
				u.refuse(p.cmd.ID, ErrBusy)
			}
		case <-ctx.Done():
			for {
				select {
				case in := <-u.inbox:
					u.sendReply(grace, ErrorReply(u.parse(in).cmd.ID, ErrShuttingDown))
				default:
					return
				}
			}
		}
	}
}

// refuse answers command id with err on the current connection without
// waiting (nothing when there is none: a refusal must never hold up the
// commands behind it).
func (u *Uplink) refuse(id string, err error) {
	u.commands.Add(1)
	if c := u.current(); c != nil {
		c.client.Publish(u.topics.Reply, 1, false, u.encodeReply(ErrorReply(id, err)))
	}
}

// runCommand runs p and returns its reply, and whether the Commander ran
// it (only then is the reply the answer to any later copy of it).
func (u *Uplink) runCommand(ctx context.Context, p pending) (Reply, bool) {
	cmd := p.cmd
	switch {
	case p.err != nil:
		u.log.Warn("uplink: bad command", "id", cmd.ID, "err", p.err)
		return ErrorReply(cmd.ID, p.err), false
	case p.retained:
		u.log.Warn("uplink: retained command refused", "id", cmd.ID, "cmd", cmd.Name)
		return ErrorReply(cmd.ID, ErrRetainedCommand), false
	case ctx.Err() != nil:
		return ErrorReply(cmd.ID, ErrShuttingDown), false
	}
	if u.opts.Authorise != nil {
		env := Envelope{ID: cmd.ID, Name: cmd.Name, Args: cmd.RawArgs, TS: cmd.TS, Nonce: cmd.Nonce, Key: cmd.Key, Sig: cmd.Sig}
		if err := u.opts.Authorise(env); err != nil {
			u.log.Warn("uplink: command refused", "id", cmd.ID, "cmd", cmd.Name, "err", err)
			return ErrorReply(cmd.ID, err), false
		}
	}
	u.log.Info("uplink: command", "id", cmd.ID, "cmd", cmd.Name)
	result, err := u.cmds.Command(ctx, cmd.Name, cmd.Args)
	if _, coded := errors.AsType[*Error](err); !coded && errors.Is(err, ErrUnknownCommand) {
		err = WithCode(CodeUnknownCommand, err, "cmd", cmd.Name) // the message names the command
	}
	if err != nil {
		return ErrorReply(cmd.ID, err), true
	}
	return OKReply(cmd.ID, result), true
}

func (u *Uplink) encodeReply(r Reply) []byte {
	b, err := json.Marshal(r)
	if err != nil { // only Result can fail, and it was produced by json.Marshal
		b, _ = json.Marshal(ErrorReply(r.ID, err))
	}
	return b
}

// sendReply publishes r, again on the next connection if the current one
// is lost before the PUBACK, until ctx ends.
func (u *Uplink) sendReply(ctx context.Context, r Reply) {
	u.commands.Add(1)
	b := u.encodeReply(r)
	for {
		c := u.waitConn(ctx)
		if c == nil {
			u.log.Warn("uplink: reply not sent before shutdown", "id", r.ID)
			return
		}
		err := wait(ctx, c, c.client.Publish(u.topics.Reply, 1, false, b))
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			u.log.Warn("uplink: reply not sent before shutdown", "id", r.ID, "err", err)
			return
		}
		if c.ctx.Err() == nil {
			// A failed publish on a live connection: the connection is not usable.
			c.lose(fmt.Errorf("%w: reply: %w", ErrPublish, err))
		}
	}
}

// idWindow remembers the ids of the last commands (at most n, for at most
// window) with their encoded replies, nil while a command still runs. Its
// methods are safe for concurrent use.
type idWindow struct {
	n      int
	window time.Duration
	now    func() time.Time

	mu    sync.Mutex
	byID  map[string]*idEntry
	order []string // ids in arrival order, oldest first
}

type idEntry struct {
	at    time.Time
	reply []byte
}

func newIDWindow(n int, window time.Duration, now func() time.Time) *idWindow {
	return &idWindow{n: n, window: window, now: now, byID: map[string]*idEntry{}}
}

// see reports whether id was seen within the window (with its reply, nil
// while it runs); if not, it remembers id as running.
func (w *idWindow) see(id string) (reply []byte, seen bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	for len(w.order) > 0 {
		e, ok := w.byID[w.order[0]]
		if ok && len(w.order) < w.n && now.Sub(e.at) <= w.window {
			break
		}
		if ok {
			delete(w.byID, w.order[0])
		}
		w.order = w.order[1:]
	}
	if e, ok := w.byID[id]; ok {
		return e.reply, true
	}
	w.byID[id] = &idEntry{at: now}
	w.order = append(w.order, id)
	return nil, false
}

// forget drops id: its command was not run.
func (w *idWindow) forget(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.byID, id) // its place in order goes with the oldest
}

// done records the reply of command id.
func (w *idWindow) done(id string, reply []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e, ok := w.byID[id]; ok {
		e.reply = reply
	}
}
