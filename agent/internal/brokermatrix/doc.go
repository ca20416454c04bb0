// Package brokermatrix tests that a box works unchanged against every broker an operator may run.
//
// The same scenario runs against Mosquitto, the embedded broker (the
// demo's) and RabbitMQ with its MQTT plugin: sealed records over TLS in
// order, the retained status, the last will when the connection breaks,
// a command and its reply, and a receiver verifying the chain. It has no
// code of its own; the tests are in matrix_test.go. RabbitMQ runs only
// when BAYAGENT_TEST_RABBITMQ=1 (make test-brokers sets it).
package brokermatrix
