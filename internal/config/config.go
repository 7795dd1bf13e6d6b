// Package config loads Harrier's configuration. Every key has a default and
// can be set, in increasing precedence, in the YAML file, by a HARRIER_...
// environment variable and by a command-line flag. The key "kafka.brokers",
// for example, is the YAML path kafka: brokers:, the variable
// HARRIER_KAFKA_BROKERS and the flag --kafka.brokers.
package config

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config is the whole configuration. Field documentation lives in the key
// table in keys.go, which is also what the example file and --help print.
type Config struct {
	Kafka      Kafka
	ClickHouse ClickHouse
	Broker     Broker
	Normalize  Normalize
	Collect    Collect
	Features   Features
	Models     Models
	Alerting   Alerting
	Log        Log
	HTTP       HTTP
}

// Kafka holds the connection to the broker.
type Kafka struct {
	Brokers     []string
	TopicPrefix string
	Partitions  int

	TLS                   bool
	TLSCAFile             string
	TLSCertFile           string
	TLSKeyFile            string
	TLSServerName         string
	TLSInsecureSkipVerify bool
	SASLMechanism         string
	SASLUsername          string
	SASLPassword          string
	SASLPasswordFile      string
}

// ClickHouse holds the connection to the database server.
type ClickHouse struct {
	Addr             string
	Database         string
	User             string
	Password         string
	PasswordFile     string
	MaxExecutionTime time.Duration

	TLS                   bool
	TLSCAFile             string
	TLSInsecureSkipVerify bool
}

// Normalize configures the normalizer's consumer.
type Normalize struct {
	Group         string
	MaxBatchBytes int
	QueueCapacity int
	FetchMaxBytes int
}

// Broker configures the embedded Kafka-protocol broker.
type Broker struct {
	Port    int
	DataDir string
}

// Collect configures the collector agent.
type Collect struct {
	HostID     string
	DockerRoot string
	CRIRoot    string
	CgroupRoot string
	ScanDir    string
	HostRoot   string
	StateDir   string
	Interval   time.Duration
	MaxCgroups int

	HostCheckInterval time.Duration
	DockerSocket      string

	Posture             bool
	PostureFirewallFile string

	Spool             bool
	SpoolMaxBytes     int64
	SpoolPolicy       string
	Compression       string
	ScanPushToken     string
	ScanPushTokenFile string
	ScanPushMaxBytes  int64
	MaxRecordBytes    int64
	ScanRejectDir     string

	Redact            bool
	Multiline         bool
	MultilineStart    string
	MultilineMaxLines int
	MultilineMaxBytes int
	MultilineMaxWait  time.Duration
}

// Features configures the event-time windows.
type Features struct {
	Window             time.Duration
	AllowedLateness    time.Duration
	Templates          bool
	TemplateSimilarity float64
	TemplateMaxPerKey  int
}

// Models configures the isolation forest.
type Models struct {
	Trees              int
	Subsample          int
	MinTrainingWindows int
	Contamination      float64
	Seed               int64

	WorkloadLabels         []string
	MinWorkloadWindows     int
	History                time.Duration
	FleetHistoryWindows    int
	WorkloadHistoryWindows int
	RetrainInterval        time.Duration
	Dir                    string
	KeepVersions           int
}

// Alerting configures the alert role.
type Alerting struct {
	RulesFile      string
	EvalInterval   time.Duration
	Dedup          time.Duration
	RoutingFile    string
	LinkTemplate   string
	ResolveWindows int

	PostureFile          string
	PostureOverridesFile string
}

// Log configures the process log on stderr.
type Log struct {
	Level  string
	Format string
}

// HTTP configures the health and metrics endpoint.
type HTTP struct {
	Addr string
}

// Error is a configuration error naming the key, the value and what is
// allowed.
type Error struct {
	Source  string // "file.yaml:12", "HARRIER_X" or "--flag"
	Key     string
	Value   string
	Allowed string
}

func (e *Error) Error() string {
	if e.Allowed == "" {
		return fmt.Sprintf("%s: unknown key %q; run 'harrier config keys' to list the keys", e.Source, e.Key)
	}
	if e.Source == "--"+e.Key {
		// The flag is the key, so naming it once is enough.
		return fmt.Sprintf("invalid value %q for %s: %s", e.Value, e.Source, e.Allowed)
	}
	return fmt.Sprintf("%s: invalid value %q for %s: %s", e.Source, e.Value, e.Key, e.Allowed)
}

// Default returns the configuration with every default applied.
func Default() *Config {
	c := &Config{}
	for _, k := range keys(c) {
		if err := k.set(k.def); err != nil {
			panic(fmt.Sprintf("default of %s: %v", k.name, err))
		}
	}
	return c
}

// Loader collects the sources of one command's configuration.
type Loader struct {
	cfg     *Config
	keys    []*key
	byName  map[string]*key
	groups  map[string]bool
	flagSet map[string]bool
	file    string
	// flagErr is the error of the last flag value that failed to parse.
	flagErr *Error
}

// NewLoader returns a loader with flags for the keys of the named groups,
// such as "kafka" and "clickhouse". Keys of other groups can still be set in
// the file and the environment.
func NewLoader(fs *flag.FlagSet, groups ...string) *Loader {
	l := &Loader{cfg: Default(), byName: map[string]*key{}, groups: map[string]bool{}, flagSet: map[string]bool{}}
	l.keys = keys(l.cfg)
	for _, k := range l.keys {
		l.byName[k.name] = k
	}
	for _, g := range groups {
		l.groups[g] = true
	}
	fs.StringVar(&l.file, "config", os.Getenv("HARRIER_CONFIG"), "YAML config `file` (also HARRIER_CONFIG)")
	for _, k := range l.keys {
		if !l.groups[k.group()] {
			continue
		}
		k := k
		usage := fmt.Sprintf("%s (default %q; env %s)", k.help, k.def, k.env())
		fs.Func(k.name, usage, func(v string) error {
			l.flagSet[k.name] = true
			if err := k.set(v); err != nil {
				l.flagErr = &Error{Source: "--" + k.name, Key: k.name, Value: v, Allowed: err.Error()}
				return l.flagErr
			}
			return nil
		})
	}
	return l
}

// Alias registers a short flag, such as --kafka for kafka.brokers.
func (l *Loader) Alias(fs *flag.FlagSet, short, keyName string) {
	k := l.byName[keyName]
	fs.Func(short, "shorthand for --"+keyName, func(v string) error {
		l.flagSet[k.name] = true
		if err := k.set(v); err != nil {
			l.flagErr = &Error{Source: "--" + short, Key: k.name, Value: v, Allowed: err.Error()}
			return l.flagErr
		}
		return nil
	})
}

// FlagError returns the *Error of the last flag value that failed to
// parse, or nil. The flag package flattens that error into its own text
// ("invalid value ... for flag -name: ..."), which repeats the value, so a
// caller that prints one line per error prints this one instead.
func (l *Loader) FlagError() error {
	if l.flagErr == nil {
		return nil
	}
	return l.flagErr
}

// IsSet reports whether a flag set the key.
func (l *Loader) IsSet(keyName string) bool { return l.flagSet[keyName] }

// Load applies the file and the environment under the flags already parsed
// and validates the result.
func (l *Loader) Load() (*Config, error) {
	// Flags were applied while parsing. Re-apply them last so they win over
	// the file and the environment.
	flagValues := map[string]string{}
	for name := range l.flagSet {
		flagValues[name] = l.byName[name].get()
	}
	if l.file != "" {
		if err := l.loadFile(l.file); err != nil {
			return nil, err
		}
	}
	for _, k := range l.keys {
		v, ok := os.LookupEnv(k.env())
		if !ok {
			continue
		}
		if err := k.set(v); err != nil {
			return nil, &Error{Source: k.env(), Key: k.name, Value: v, Allowed: err.Error()}
		}
	}
	if err := checkUnknownEnv(l.byName); err != nil {
		return nil, err
	}
	for name, v := range flagValues {
		if err := l.byName[name].set(v); err != nil {
			return nil, err
		}
	}
	return l.cfg, nil
}

// checkUnknownEnv rejects a HARRIER_ variable that matches no key, since a
// misspelt variable would otherwise be ignored without a word.
func checkUnknownEnv(byName map[string]*key) error {
	known := map[string]bool{"HARRIER_CONFIG": true}
	for _, k := range byName {
		known[k.env()] = true
	}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "HARRIER_") && !known[name] {
			return &Error{Source: "environment", Key: name}
		}
	}
	return nil
}

// Keys lists every key with its default, environment variable and help, for
// 'harrier config keys'.
func Keys() []string {
	c := &Config{}
	var out []string
	for _, k := range keys(c) {
		out = append(out, fmt.Sprintf("%-32s %-36s default %q\n    %s", k.name, k.env(), k.def, k.help))
	}
	sort.Strings(out)
	return out
}

type kind int

const (
	kString kind = iota
	kStrings
	kInt
	kInt64
	kFloat
	kDuration
	kBool
)

type key struct {
	name string
	def  string
	help string
	kind kind
	ptr  any
	// check validates a parsed value and returns what is allowed on failure.
	check func(v any) string
}

func (k *key) group() string { g, _, _ := strings.Cut(k.name, "."); return g }

func (k *key) env() string {
	return "HARRIER_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(k.name))
}

func (k *key) get() string {
	switch p := k.ptr.(type) {
	case *string:
		return *p
	case *[]string:
		return strings.Join(*p, ",")
	case *int:
		return strconv.Itoa(*p)
	case *int64:
		return strconv.FormatInt(*p, 10)
	case *float64:
		return strconv.FormatFloat(*p, 'g', -1, 64)
	case *time.Duration:
		return p.String()
	case *bool:
		return strconv.FormatBool(*p)
	}
	return ""
}

// set parses v into the key's field. The error text states what is allowed,
// with the key's range when it has one.
func (k *key) set(v string) error {
	v = strings.TrimSpace(v)
	var parsed any
	switch k.kind {
	case kString:
		parsed = v
	case kStrings:
		var list []string
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
		parsed = list
	case kInt:
		n, err := strconv.Atoi(v)
		if err != nil {
			return k.parseError("expected an integer", math.MinInt)
		}
		parsed = n
	case kInt64:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return k.parseError("expected an integer", int64(math.MinInt64))
		}
		parsed = n
	case kFloat:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return k.parseError("expected a number", math.Inf(-1))
		}
		parsed = f
	case kDuration:
		d, err := time.ParseDuration(v)
		if err != nil {
			return k.parseError("expected a duration such as 30s, 5m or 1h", time.Duration(math.MinInt64))
		}
		parsed = d
	case kBool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("expected true or false")
		}
		parsed = b
	}
	if k.check != nil {
		if allowed := k.check(parsed); allowed != "" {
			return fmt.Errorf("%s", allowed)
		}
	}
	switch p := k.ptr.(type) {
	case *string:
		*p = parsed.(string)
	case *[]string:
		*p = parsed.([]string)
	case *int:
		*p = parsed.(int)
	case *int64:
		*p = parsed.(int64)
	case *float64:
		*p = parsed.(float64)
	case *time.Duration:
		*p = parsed.(time.Duration)
	case *bool:
		*p = parsed.(bool)
	}
	return nil
}

// parseError returns the error for a value that does not parse as the
// key's kind. A key with a range check gets its range instead, so that a
// value that does not parse and one out of range get the same message.
// lowest is a value below every range, for which the check returns it.
func (k *key) parseError(expected string, lowest any) error {
	if k.check != nil {
		if allowed := k.check(lowest); allowed != "" {
			return errors.New(allowed)
		}
	}
	return errors.New(expected)
}
