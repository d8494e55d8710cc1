// Package e2e holds end-to-end tests that run the real blazemq binary and drive it with the Go
// Kafka clients franz-go and sarama, unchanged. `go test ./...` in this directory runs them; see
// broker_test.go for how the broker is found and started.
package e2e
