package analyzersim

// nhaModel is what differs between the NHA family's members.
type nhaModel struct {
	main           []byte // main data requests; the first is the model's own
	probe, ambient byte
	status, warmUp byte
	ready, measure byte // status codes for ready and measuring
}

var nhaModels = map[string]nhaModel{
	ProtocolNHA506:  {main: []byte{0x01}, probe: 35, ambient: 34, status: 38, warmUp: 39, ready: 0xF0, measure: 0xF1},
	ProtocolFLA502:  {main: []byte{0x01}, probe: 4, ambient: 3, status: 34, warmUp: 35, ready: 0xF0, measure: 0xF1},
	ProtocolNHA503:  {main: []byte{0x2C, 0x81}, probe: 4, ambient: 3, status: 38, warmUp: 39, ready: 0x00, measure: 0x01},
	ProtocolNHA503V: {main: []byte{0x01}, probe: 4, ambient: 3, status: 38, warmUp: 39, ready: 0x00, measure: 0x01},
}

// gasHead is the ACK and the six words that open the main data of the NHA
// family and of the MQW-511 alike: HC, CO, CO2, O2, NO and rpm, at the
// protocol's scales.
func gasHead(g GasSample, sc gasScales) []byte {
	b := []byte{0x06}
	b = be(b, word(g.HC, 1))
	b = be(b, word(g.CO, sc.co))
	b = be(b, word(g.CO2, sc.co2))
	b = be(b, word(g.O2, sc.o2))
	b = be(b, word(g.NO, 1))
	return be(b, word(g.RPM, 1))
}

// nhaMainReply is the NHA family's main data: 21 bytes (23 for the
// NHA-503's 0x2C) ending in the 8-bit sum.
func (s *Sim) nhaMainReply(g GasSample, long bool) []byte {
	sc := gasScalesOf(s.protocol)
	b := gasHead(g, sc)
	b = be(b, word(g.OilTemperature, sc.oil))
	b = be(b, word(g.Flow, 1))
	var flags byte
	if g.O2SensorAged {
		flags |= 0x01
	}
	if g.NOSensorAged {
		flags |= 0x02
	}
	b = append(b, flags)
	b = be(b, word(g.Lambda, sc.lambda))
	if long {
		var water byte
		if g.WaterTrapFull {
			water = 0x40
		}
		b = append(b, 0x00, water)
	}
	return append(b, sum(b))
}

func (s *Sim) answerNHA(cmd byte) []byte {
	m := nhaModels[s.protocol]
	switch {
	case cmd == m.main[0]:
		return s.nhaMainReply(s.gasNow(), s.protocol == ProtocolNHA503)
	case len(m.main) > 1 && cmd == m.main[1]:
		return s.nhaMainReply(s.gasNow(), false)
	case cmd == 0x02:
		a := s.c.ambient
		if a == nil {
			return []byte{0x15}
		}
		b := be(be(be([]byte{0x06}, word(a.Temperature, 10)), word(a.Pressure, 10)), word(a.Humidity, 10))
		return append(b, sum(b))
	case cmd == m.probe || cmd == m.ambient:
		s.st.pumping = true
		return []byte{0x06}
	case cmd == 0x05 || cmd == 0x06: // back-flush, stop
		s.st.pumping = cmd == 0x05
		return []byte{0x06}
	case cmd == 0x07:
		return []byte{s.nhaOperation("leak", s.c.behaviour.LeakPolls, s.c.behaviour.Leak)}
	case cmd == 0x08:
		return []byte{s.nhaOperation("zero", s.c.behaviour.ZeroPolls, s.c.behaviour.ZeroFails)}
	case cmd == m.status:
		switch {
		case s.st.warmLeft > 0:
			s.st.warmLeft--
			return []byte{0x02}
		case s.st.op == "leak":
			return []byte{0x03}
		case s.st.pumping:
			return []byte{m.measure}
		}
		return []byte{m.ready}
	case cmd == m.warmUp:
		return be(nil, uint16(s.st.warmLeft))
	}
	return []byte{0x15}
}

// nhaOperation answers one zero or leak check request: 0x05 while running,
// then 0x00 or 0x01.
func (s *Sim) nhaOperation(op string, polls int, fails bool) byte {
	if s.st.op != op {
		s.start(op, polls)
	}
	if s.poll(op) {
		return 0x05
	}
	if fails {
		return 0x01
	}
	return 0x00
}

func (s *Sim) answerMQW511(cmd byte) []byte {
	switch {
	case cmd == 0x03:
		g, sc := s.gasNow(), gasScalesOf(s.protocol)
		b := gasHead(g, sc)
		b = be(b, word(g.OilTemperature, sc.oil))
		b = be(b, word(g.Lambda, sc.lambda))
		return append(b, 0x00, 0x00)
	case cmd == 0x01 || cmd == 0x02:
		s.st.pumping = cmd == 0x01
		return []byte{0x06}
	case cmd == 0x0C && s.protocol == ProtocolNHA501A:
		return []byte{0x06}
	}
	return []byte{0x15}
}

func (s *Sim) answerFLA501(req []byte) []byte {
	if len(req) < 4 || sum(req) != 0 {
		return nil
	}
	ack := neg(0x02, 0x01, req[2])
	switch req[2] {
	case 0x40:
		g, sc := s.gasNow(), gasScalesOf(s.protocol)
		b := []byte{0x06, 0x15, 0x40, 0x00}
		b = be(b, word(g.CO2, sc.co2))
		b = be(b, word(g.CO, sc.co))
		b = be(b, word(g.HC, 1))
		b = be(b, word(g.O2, sc.o2))
		b = be(b, word(g.NO, 1))
		b = be(b, word(g.RPM, 1))
		b = be(b, word(g.OilTemperature, sc.oil))
		b = be(b, word(g.Lambda, sc.lambda))
		return append(b, 0, 0, 0)
	case 0xA5:
		s.st.pumping = len(req) > 4 && req[3] == 0x01
		return ack
	case 0x20:
		return ack
	}
	return nil
}
