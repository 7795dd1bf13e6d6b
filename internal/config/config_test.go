package config

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, yamlText string, args ...string) (*Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	l := NewLoader(fs, "kafka", "clickhouse", "collect", "models")
	l.Alias(fs, "kafka", "kafka.brokers")
	if yamlText != "" {
		p := filepath.Join(t.TempDir(), "harrier.yaml")
		if err := os.WriteFile(p, []byte(yamlText), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append([]string{"--config", p}, args...)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return l.Load()
}

func TestDefaults(t *testing.T) {
	c, err := load(t, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Kafka.Brokers; len(got) != 1 || got[0] != "127.0.0.1:9092" {
		t.Errorf("kafka.brokers = %v", got)
	}
	if c.Features.Window != time.Minute {
		t.Errorf("features.window = %v", c.Features.Window)
	}
}

func TestExampleFileSetsEveryKey(t *testing.T) {
	data, err := os.ReadFile("../../harrier.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	l := NewLoader(fs)
	if err := l.applyYAML("harrier.example.yaml", data); err != nil {
		t.Fatalf("example file: %v", err)
	}
	def := Default()
	for _, k := range keys(def) {
		if !strings.Contains(string(data), lastPart(k.name)+":") {
			t.Errorf("example file lacks key %s", k.name)
		}
	}
	if got, want := l.cfg.ClickHouse, def.ClickHouse; got != want {
		t.Errorf("example clickhouse = %+v, defaults %+v", got, want)
	}
}

func TestPrecedenceFlagOverEnvOverFile(t *testing.T) {
	t.Setenv("HARRIER_CLICKHOUSE_DATABASE", "fromenv")
	t.Setenv("HARRIER_MODELS_TREES", "50")
	c, err := load(t, "clickhouse:\n  database: fromfile\nmodels:\n  trees: 10\n  seed: 7\n", "--models.trees", "20", "--kafka", "a:1,b:2")
	if err != nil {
		t.Fatal(err)
	}
	if c.ClickHouse.Database != "fromenv" {
		t.Errorf("database = %q, want the environment's", c.ClickHouse.Database)
	}
	if c.Models.Trees != 20 {
		t.Errorf("trees = %d, want the flag's 20", c.Models.Trees)
	}
	if c.Models.Seed != 7 {
		t.Errorf("seed = %d, want the file's 7", c.Models.Seed)
	}
	if len(c.Kafka.Brokers) != 2 || c.Kafka.Brokers[1] != "b:2" {
		t.Errorf("brokers = %v", c.Kafka.Brokers)
	}
}

func TestErrorsNameKeyValueAndAllowed(t *testing.T) {
	cases := []struct {
		name, yaml string
		args       []string
		env        [2]string
		want       []string
	}{
		{name: "unknown file key", yaml: "kafka:\n  brokerz: [x:1]\n", want: []string{"harrier.yaml:2", `unknown key "kafka.brokerz"`}},
		{name: "unknown group", yaml: "kafak:\n  brokers: x\n", want: []string{`unknown key "kafak"`}},
		{name: "bad duration", yaml: "features:\n  window: soon\n", want: []string{"harrier.yaml:2", `"soon"`, "features.window", "duration"}},
		{name: "out of range", yaml: "models:\n  contamination: 0.9\n", want: []string{`"0.9"`, "models.contamination", "from 0.0001 to 0.5"}},
		{name: "unparsable with range", yaml: "collect:\n  interval: soon\n", want: []string{"harrier.yaml:2", `"soon"`, "collect.interval", "from 100ms to 1h0m0s"}},
		{name: "unparsable int with range", env: [2]string{"HARRIER_KAFKA_PARTITIONS", "many"}, want: []string{`"many"`, "from 1 to 1024"}},
		{name: "flag out of range", args: []string{"--collect.interval", "-5s"}, want: []string{`invalid value "-5s" for --collect.interval: expected a duration from 100ms to 1h0m0s`}},
		{name: "bad address flag", args: []string{"--clickhouse.addr", "localhost"}, want: []string{"--clickhouse.addr", `"localhost"`, "host:port"}},
		{name: "bad env", env: [2]string{"HARRIER_KAFKA_PARTITIONS", "many"}, want: []string{"HARRIER_KAFKA_PARTITIONS", `"many"`, "integer"}},
		{name: "unknown env", env: [2]string{"HARRIER_KAFKA_BROKER", "x:1"}, want: []string{`unknown key "HARRIER_KAFKA_BROKER"`}},
		{name: "list for scalar", yaml: "clickhouse:\n  addr: [a:1]\n", want: []string{"clickhouse.addr", "single value"}},
		{name: "scalar for group", yaml: "kafka: 5\n", want: []string{"harrier.yaml:1", "kafka is a group of keys", "brokers:"}},
		{name: "duplicate key", yaml: "features:\n  window: 1m\n  window: 2m\n", want: []string{"harrier.yaml:3", "features.window is set twice", "line 2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env[0] != "" {
				t.Setenv(tc.env[0], tc.env[1])
			}
			_, err := load(t, tc.yaml, tc.args...)
			if err == nil {
				t.Fatal("no error")
			}
			var cerr *Error
			// The flag package flattens the error of a flag into text, and
			// errors about the file's layout are not about one key.
			structural := strings.Contains(err.Error(), "group of keys") || strings.Contains(err.Error(), "set twice")
			if !errors.As(err, &cerr) && len(tc.args) == 0 && !structural {
				t.Errorf("error %v is not a *config.Error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func FuzzApplyYAML(f *testing.F) {
	data, _ := os.ReadFile("../../harrier.example.yaml")
	f.Add(data)
	f.Add([]byte("kafka: [1, 2]\n"))
	f.Add([]byte("models:\n  trees: -1\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		fs := flag.NewFlagSet("fuzz", flag.ContinueOnError)
		l := NewLoader(fs)
		_ = l.applyYAML("fuzz.yaml", in)
	})
}

func TestFlagErrorNamesKeyOnce(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	l := NewLoader(fs, "collect")
	if err := fs.Parse([]string{"--collect.interval", "-5s"}); err == nil {
		t.Fatal("no error for --collect.interval -5s")
	}
	err := l.FlagError()
	if err == nil {
		t.Fatal("FlagError returned nil after a bad flag value")
	}
	want := `invalid value "-5s" for --collect.interval: expected a duration from 100ms to 1h0m0s`
	if err.Error() != want {
		t.Errorf("FlagError = %q, want %q", err, want)
	}
}
