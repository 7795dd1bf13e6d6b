package models

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"gonum.org/v1/gonum/mathext/prng"

	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/record"
)

// fleetStart is the event time of minute 0 of the synthetic fleet.
var fleetStart = time.Date(2024, 10, 10, 12, 0, 0, 0, time.UTC)

// fleetContainer describes one container of the synthetic fleet: its mean
// log lines per minute, CPU cores and working set.
type fleetContainer struct {
	id, name, image string
	lines           float64
	cores           float64
	memory          float64
	message         func(rng *rand.Rand, i int) string
}

var fleet = []fleetContainer{
	{"c0web000000000000000000000000000000000000000000000000000000000001", "web", "sha256:web", 100, 0.2, 50e6,
		func(rng *rand.Rand, i int) string {
			return fmt.Sprintf("192.0.2.%d - - \"GET /api/items/%d HTTP/1.1\" 200 %d", rng.IntN(250), rng.IntN(1000), 200+rng.IntN(5000))
		}},
	{"c1db0000000000000000000000000000000000000000000000000000000000002", "db", "sha256:db", 10, 0.4, 300e6,
		func(rng *rand.Rand, i int) string {
			return fmt.Sprintf("LOG: checkpoint complete: wrote %d buffers (%d.%d%%)", rng.IntN(100), rng.IntN(10), rng.IntN(10))
		}},
	{"c2sshd00000000000000000000000000000000000000000000000000000000003", "sshd", "sha256:sshd", 2, 0.05, 8e6,
		func(rng *rand.Rand, i int) string {
			return fmt.Sprintf("Accepted publickey for deploy from 198.51.100.%d port %d ssh2", rng.IntN(250), 30000+rng.IntN(30000))
		}},
	{"c3worker000000000000000000000000000000000000000000000000000000004", "worker", "sha256:worker", 30, 0.8, 120e6,
		func(rng *rand.Rand, i int) string {
			return fmt.Sprintf("job %d finished in %dms", rng.IntN(100000), rng.IntN(900))
		}},
	{"c4cache00000000000000000000000000000000000000000000000000000000005", "cache", "sha256:cache", 1, 0.02, 20e6,
		func(rng *rand.Rand, i int) string {
			return fmt.Sprintf("%d changes in 60 seconds. Saving...", rng.IntN(100))
		}},
}

// incidentMinutes are the minutes in which sshd sees a password-guessing
// burst: about 300 failed logins a minute and 1.8 cores of CPU.
const incidentFirst, incidentLast = 45, 49

var guessedUsers = []string{"admin", "root", "test", "oracle", "guest", "ubuntu", "pi", "user", "ftp", "postgres"}

// fleetMessages returns the records of the synthetic fleet over minutes
// [0, minutes), as Kafka messages in event-time order: inventory first,
// then logs and one cgroup sample per container every 10 seconds.
func fleetMessages(t testing.TB, minutes int, seed uint64) []kafka.Message {
	t.Helper()
	rng := rand.New(prng.NewXoshiro256plusplus(seed))
	type timed struct {
		ns  int64
		msg kafka.Message
	}
	var out []timed
	add := func(kind record.Kind, id string, ns int64, key string, payload any) {
		value, err := record.Encode(kind, id, "host-1", "synthetic", ns, payload)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, timed{ns, kafka.Message{Topic: record.TopicFor(kind), Key: []byte(key), Value: value}})
	}

	for _, c := range fleet {
		add(record.KindContainer, "inv-"+c.id, fleetStart.UnixNano(), c.id, record.Container{
			TimeNs: fleetStart.UnixNano(), ContainerID: c.id, Name: c.name, Runtime: "docker",
			ImageRef: c.name + ":latest", ImageID: c.image, Running: true,
		})
	}
	for _, c := range fleet {
		var usage float64
		for m := range minutes {
			incident := c.name == "sshd" && m >= incidentFirst && m <= incidentLast
			minuteStart := fleetStart.Add(time.Duration(m) * time.Minute)

			lines := poisson(rng, c.lines)
			for i := range lines {
				ns := minuteStart.Add(time.Duration(rng.Int64N(int64(time.Minute)))).UnixNano()
				add(record.KindLog, fmt.Sprintf("%s-log-%d-%d", c.name, m, i), ns, c.id, record.Log{
					TimeNs: ns, Runtime: "docker", ContainerID: c.id, ContainerName: c.name, Stream: "stdout", Message: c.message(rng, i),
				})
			}
			if incident {
				for i := range 280 + rng.IntN(40) {
					ns := minuteStart.Add(time.Duration(rng.Int64N(int64(time.Minute)))).UnixNano()
					msg := fmt.Sprintf("Failed password for invalid user %s from 203.0.113.%d port %d ssh2",
						guessedUsers[rng.IntN(len(guessedUsers))], rng.IntN(250), 30000+rng.IntN(30000))
					add(record.KindLog, fmt.Sprintf("%s-attack-%d-%d", c.name, m, i), ns, c.id, record.Log{
						TimeNs: ns, Runtime: "docker", ContainerID: c.id, ContainerName: c.name, Stream: "stderr", Message: msg,
					})
				}
			}

			cores := c.cores
			if incident {
				cores = 1.8
			}
			for s := 0; s < 60; s += 10 {
				ns := minuteStart.Add(time.Duration(s) * time.Second).UnixNano()
				memory := c.memory * (1 + 0.02*rng.NormFloat64())
				add(record.KindMetric, fmt.Sprintf("%s-metric-%d-%d", c.name, m, s), ns, c.id, record.Metric{
					TimeNs: ns, ContainerID: c.id, CgroupPath: "system.slice/docker-" + c.id + ".scope", CgroupMode: "v2",
					CPUUsageNs: int64(usage), CPUThrottledNs: 0, CPUThrottledPeriods: 0,
					MemoryUsageBytes: int64(memory * 1.2), MemoryWorkingSetBytes: int64(memory), MemoryLimitBytes: -1,
					OOMKills: 0, PidsCurrent: 5, PidsMax: -1, IOReadBytes: 0, IOWriteBytes: 0,
				})
				// The next 10 seconds lie in minute m.
				usage += math.Max(0, cores*(1+0.1*rng.NormFloat64())) * 10e9
			}
		}
	}
	slices.SortStableFunc(out, func(a, b timed) int {
		switch {
		case a.ns < b.ns:
			return -1
		case a.ns > b.ns:
			return 1
		}
		return 0
	})
	msgs := make([]kafka.Message, len(out))
	for i, o := range out {
		msgs[i] = o.msg
	}
	return msgs
}

// poisson draws a Poisson variate by Knuth's method for small means and a
// rounded normal approximation for large ones.
func poisson(rng *rand.Rand, mean float64) int {
	if mean > 30 {
		return max(0, int(math.Round(mean+math.Sqrt(mean)*rng.NormFloat64())))
	}
	limit := math.Exp(-mean)
	k, p := 0, 1.0
	for {
		p *= rng.Float64()
		if p <= limit {
			return k
		}
		k++
	}
}

// memoryEmitter keeps the messages written to it. It stands in for the
// alerts topic where a test reads the alerts back directly.
type memoryEmitter struct {
	mu   sync.Mutex
	msgs []kafka.Message
}

func (e *memoryEmitter) Write(_ context.Context, msgs ...kafka.Message) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	// The agent and the spool reuse the bytes of msgs after Write returns.
	for _, m := range msgs {
		e.msgs = append(e.msgs, kafka.Message{Topic: m.Topic, Key: bytes.Clone(m.Key), Value: bytes.Clone(m.Value)})
	}
	return nil
}

func (e *memoryEmitter) alerts(t testing.TB) []record.Alert {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []record.Alert
	for _, m := range e.msgs {
		a, err := decodeAlert(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func decodeAlert(b []byte) (record.Alert, error) {
	var a record.Alert
	env, err := record.Decode(b)
	if err != nil {
		return a, err
	}
	if env.Kind != record.KindAlert {
		return a, fmt.Errorf("envelope kind = %s, want alert", env.Kind)
	}
	return a, json.Unmarshal(env.Payload, &a)
}

// feed hands msgs to the scorer in batches of size n.
func feed(t testing.TB, s *Scorer, msgs []kafka.Message, n int) {
	t.Helper()
	for i := 0; i < len(msgs); i += n {
		if err := s.HandleBatch(context.Background(), msgs[i:min(i+n, len(msgs))]); err != nil {
			t.Fatalf("HandleBatch at message %d: %v", i, err)
		}
	}
}
