// Package emit defines the record that every collector hands to the agent,
// which wraps it in an envelope and writes it to Kafka.
package emit

import "github.com/harrierhq/harrier/internal/record"

// Record is one collected record before it is wrapped in an envelope.
type Record struct {
	// Kind selects the payload type and, through record.TopicFor, the topic.
	Kind record.Kind
	// Key is the Kafka message key: the container id, image id or host id.
	Key string
	// ID is the stable record id (see record.Envelope.ID).
	ID string
	// Source names where the record was read, such as "docker:<path>:<offset>".
	Source string
	// Payload is a record.Log, record.Metric, record.Scan, record.Host or
	// record.Container.
	Payload any
}
