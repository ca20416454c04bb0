package analyzer

// Methods lists the test methods a reading may be stamped with
// (Options.Method): the one list the configuration (analyzer.method) and
// `bayagent measure --method` accept.
func Methods() []string {
	return []string{MethodRealtime, MethodTwoSpeedIdle, MethodASM, MethodFreeAcceleration}
}
