// Package systemtest holds the end-to-end tests of boxes and the
// receiving side together, against the real parts an operator runs: a
// Mosquitto broker (restarted in the middle), PostgreSQL shared by two
// receivers, and the simulated provincial system. It has no code of its
// own; the tests are in system_test.go.
package systemtest
