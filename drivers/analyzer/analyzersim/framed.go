package analyzersim

import (
	"bytes"
	"math"
)

func (s *Sim) answerMQW50A(req []byte) []byte {
	if len(req) < 4 || sum(req) != 0 {
		return nil
	}
	cmd := req[1]
	ack := neg(0x06, cmd, 0x03)
	switch cmd {
	case 0x60:
		g, sc := s.gasNow(), gasScalesOf(s.protocol)
		a := s.c.ambient
		if a == nil {
			a = &Ambient{Temperature: 25, Pressure: 101.3, Humidity: 50}
		}
		b := []byte{0x06, 0x60, 0x1B}
		b = be(b, word(g.CO2, sc.co2))
		b = be(b, word(g.CO, sc.co))
		b = be(b, word(g.HC, 1))
		b = be(b, word(g.NO, 1))
		b = be(b, word(g.O2, sc.o2))
		b = be(b, word(a.Humidity, 10))
		b = be(b, word(g.OilTemperature, sc.oil))
		b = be(b, word(a.Temperature, 10))
		b = be(b, word(g.RPM, 1))
		b = append(b, 0, 0)
		b = be(b, word(g.Lambda, sc.lambda))
		b = be(b, word(a.Pressure, 10))
		return append(b, -sum(b))
	case 0x61:
		b := []byte{0x06, 0x61, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0}
		switch {
		case s.st.warmLeft > 0:
			s.st.warmLeft--
			b[3], b[4] = 0x01, 0x80
		case s.poll("zero"):
			b[3], b[4] = 0x40, 0x80
		case s.poll("leak"):
			b[3], b[4] = 0x10, 0x80
		}
		if s.st.op == "" {
			if s.st.zeroFailed {
				b[5] |= 0x04
			}
			if s.st.leak {
				b[5] |= 0x01
			}
		}
		return b
	case 0x67:
		s.start("zero", s.c.behaviour.ZeroPolls)
		s.st.zeroFailed = s.c.behaviour.ZeroFails
		return ack
	case 0x66:
		s.start("leak", s.c.behaviour.LeakPolls)
		s.st.leak = s.c.behaviour.Leak
		return ack
	case 0x7B, 0x7C, 0x80:
		s.st.pumping = true
		return ack
	case 0x78:
		s.st.pumping = false
		return ack
	}
	return nil
}

// fgaFrame is one 7E LEN payload CHK frame, CHK = NOT(LEN + payload).
func fgaFrame(payload ...byte) []byte {
	b := append([]byte{0x7E, byte(len(payload))}, payload...)
	return append(b, ^sum(b[1:]))
}

var fgaACK = append(fgaFrame(0xC6), fgaFrame(0x81)...)

func (s *Sim) answerFGA(frame []byte) []byte {
	if len(frame) < 3 || ^sum(frame[1:len(frame)-1]) != frame[len(frame)-1] {
		return nil
	}
	p := frame[2 : len(frame)-1]
	switch {
	case bytes.Equal(p, []byte{0x00, 0x01, 0x02, 0x02}):
		g := s.gasNow()
		sc := gasScalesOf(s.protocol)
		var fields []byte
		for _, v := range []int64{
			roundTo(g.HC, 1), roundTo(g.CO, sc.co), roundTo(g.CO2, sc.co2), roundTo(g.O2, sc.o2),
			roundTo(g.NO, 1), roundTo(g.Lambda, sc.lambda), roundTo(g.RPM, 1), roundTo(g.OilTemperature, sc.oil),
		} {
			t := itoa(min(max(v, -999), 9999))
			for len(t) < 4 {
				t = " " + t
			}
			fields = append(fields, t...)
		}
		// The data frame: LEN 40, eight undocumented header bytes (the last
		// chosen so that the frame's own checksum holds), the fields, and
		// the checksum the station code checks: NOT(sum of the fields).
		hdr := []byte{0x7E, 0x28, 0x01, 0x01, 0x02, 0, 0, 0, 0, 0}
		hdr[9] = -sum(hdr[1:9])
		b := append(append(bytes.Clone(fgaACK), hdr...), fields...)
		return append(b, ^sum(fields))
	case bytes.Equal(p, []byte{0x00, 0x01, 0x16, 0x45}):
		return bytes.Clone(fgaACK)
	case len(p) == 10 && bytes.Equal(p[:4], []byte{0x00, 0x01, 0x0E, 0x02}):
		s.st.pumping = p[4] == 0x01
		return append(bytes.Clone(fgaACK), fgaFrame(0x01, 0x01, 0x0E, 0x00, 0x00, p[4], 0, 0, 0, 0, 0)...)
	}
	return nil
}

// roundTo is v as a count of 1/scale.
func roundTo(v float64, scale int64) int64 { return int64(math.Round(v * float64(scale))) }

// nhtModel is what differs between the NHT-6 family's members.
type nhtModel struct{ realtime, result, peak, clearPeak, calibrate byte }

var nhtModels = map[string]nhtModel{
	ProtocolNHT6:   {realtime: 0xA5, result: 0xB1, peak: 0xA6, clearPeak: 0xA7, calibrate: 0xA4},
	ProtocolMQY200: {realtime: 0xA6, peak: 0xA9, clearPeak: 0xA8, calibrate: 0xA2},
}

func kelvinWord(t *float64) uint16 {
	if t == nil {
		return 0xFFFF
	}
	return uint16(int64(*t) + 273)
}

func (s *Sim) answerNHT(req []byte) []byte {
	if sum(req) != 0 {
		return []byte{0x15, NAKBadChecksum}
	}
	m := nhtModels[s.protocol]
	cmd := req[0]
	o := s.opaNow()
	if o.K > s.st.peak[1] {
		s.st.peak = [3]float64{o.N, o.K, o.RPM}
	}
	simple := neg(cmd)
	switch cmd {
	case m.realtime:
		b := be(be(be(be([]byte{cmd}, word(o.N, 10)), word(o.K, 100)), word(o.RPM, 1)), kelvinWord(o.OilTemperature))
		return neg(b...)
	case m.peak:
		p := s.st.peak
		return neg(be(be(be([]byte{cmd}, word(p[0], 10)), word(p[1], 100)), word(p[2], 1))...)
	case m.clearPeak:
		s.st.peak = [3]float64{}
		return simple
	case m.calibrate:
		s.start("cal", s.c.calPolls)
		s.st.calFault = s.c.calFails
		return simple
	case 0xA1:
		st := byte(1)
		switch {
		case s.st.warmLeft > 0:
			s.st.warmLeft--
			st = 0
		case s.poll("cal"):
			st = 2
		case s.st.calFault:
			s.st.calFault = false
			st = 3
		}
		return neg(0xA1, st)
	case 0xA0:
		s.st.nhtStatus = req[1]
		return simple
	}
	if m.result != 0 && cmd == m.result {
		f := s.c.free
		if f == nil {
			return []byte{0x15, NAKNoResult}
		}
		b := be(be(be(be(be([]byte{cmd}, word(f.K1, 100)), word(f.K2, 100)), word(f.K3, 100)), word(f.KMean, 100)), word(f.IdleRPM, 1))
		return neg(b...)
	}
	if s.protocol == ProtocolNHT6 && cmd == 0xA2 { // stop warm-up
		s.st.warmLeft = 0
		return simple
	}
	return []byte{0x15, NAKUnknownCommand}
}

func (s *Sim) answerFTY(req []byte) []byte {
	if !bytes.Equal(req[:5], []byte{'f', 't', 'y', 0x01, 0x02}) || sum(req) != 0 {
		return nil
	}
	switch req[5] {
	case 0x02:
		o := s.opaNow()
		return append(be(be(be([]byte{'f', 't', 'y'}, word(o.N, 10)), kelvinWord(o.OilTemperature)), word(o.RPM, 1)), 0x00)
	case 0x01:
		var st byte = 0x04
		switch {
		case s.st.warmLeft > 0:
			s.st.warmLeft--
			st = 0x02
		case s.poll("cal"):
			st = 0x00
		}
		return []byte{'f', 't', 'y', st, 0, 0, 0}
	case 0x05:
		s.start("cal", s.c.calPolls)
		return []byte{'f', 't', 'y', 0x05}
	}
	return nil
}
