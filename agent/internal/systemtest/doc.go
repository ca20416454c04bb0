// Package systemtest tests boxes and the receiving side together, end to end.
//
// It runs against the real parts an operator runs: a Mosquitto broker
// (restarted in the middle), PostgreSQL shared by two receivers, and the
// simulated provincial system. It has no code of its own; the tests are in
// system_test.go.
package systemtest
