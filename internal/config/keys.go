package config

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"time"
)

// keys returns the key table bound to the fields of c. The order is the
// order of the example file.
func keys(c *Config) []*key {
	return []*key{
		{name: "kafka.brokers", def: "127.0.0.1:9092", kind: kStrings, ptr: &c.Kafka.Brokers, check: hostPorts,
			help: "Kafka bootstrap brokers, comma-separated host:port"},
		{name: "kafka.topic_prefix", def: "harrier.", kind: kString, ptr: &c.Kafka.TopicPrefix, check: topicPrefix,
			help: "prefix of every topic name, such as harrier. for harrier.logs"},
		{name: "kafka.partitions", def: "3", kind: kInt, ptr: &c.Kafka.Partitions, check: intRange(1, 1024),
			help: "partitions of the topics Harrier creates; bounds how many processes of one role share the work"},
		{name: "kafka.tls", def: "false", kind: kBool, ptr: &c.Kafka.TLS,
			help: "connect to the brokers over TLS"},
		{name: "kafka.tls_ca_file", def: "", kind: kString, ptr: &c.Kafka.TLSCAFile,
			help: "PEM file of the CA that signed the brokers' certificates; empty uses the system roots"},
		{name: "kafka.tls_cert_file", def: "", kind: kString, ptr: &c.Kafka.TLSCertFile,
			help: "PEM client certificate for mutual TLS, with kafka.tls_key_file"},
		{name: "kafka.tls_key_file", def: "", kind: kString, ptr: &c.Kafka.TLSKeyFile,
			help: "PEM private key of kafka.tls_cert_file"},
		{name: "kafka.tls_server_name", def: "", kind: kString, ptr: &c.Kafka.TLSServerName,
			help: "name checked in the brokers' certificates; empty uses the host of each address"},
		{name: "kafka.tls_insecure_skip_verify", def: "false", kind: kBool, ptr: &c.Kafka.TLSInsecureSkipVerify,
			help: "accept any broker certificate; for tests only"},
		{name: "kafka.sasl_mechanism", def: "", kind: kString, ptr: &c.Kafka.SASLMechanism, check: oneOf("", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"),
			help: "SASL mechanism: PLAIN (only with TLS), SCRAM-SHA-256 or SCRAM-SHA-512; empty turns SASL off"},
		{name: "kafka.sasl_username", def: "", kind: kString, ptr: &c.Kafka.SASLUsername,
			help: "SASL user name"},
		{name: "kafka.sasl_password", def: "", kind: kString, ptr: &c.Kafka.SASLPassword,
			help: "SASL password; prefer kafka.sasl_password_file or HARRIER_KAFKA_SASL_PASSWORD over the config file"},
		{name: "kafka.sasl_password_file", def: "", kind: kString, ptr: &c.Kafka.SASLPasswordFile,
			help: "file whose content (without a trailing newline) is the SASL password"},

		{name: "clickhouse.addr", def: "127.0.0.1:9000", kind: kString, ptr: &c.ClickHouse.Addr, check: hostPort,
			help: "ClickHouse native-protocol address host:port"},
		{name: "clickhouse.database", def: "harrier", kind: kString, ptr: &c.ClickHouse.Database, check: identifier,
			help: "ClickHouse database that contains Harrier's tables"},
		{name: "clickhouse.user", def: "default", kind: kString, ptr: &c.ClickHouse.User,
			help: "ClickHouse user"},
		{name: "clickhouse.password", def: "", kind: kString, ptr: &c.ClickHouse.Password,
			help: "ClickHouse password; prefer clickhouse.password_file or HARRIER_CLICKHOUSE_PASSWORD over the config file"},
		{name: "clickhouse.password_file", def: "", kind: kString, ptr: &c.ClickHouse.PasswordFile,
			help: "file whose content (without a trailing newline) is the ClickHouse password"},
		{name: "clickhouse.tls", def: "false", kind: kBool, ptr: &c.ClickHouse.TLS,
			help: "connect to ClickHouse over TLS (its secure native port, 9440 by default)"},
		{name: "clickhouse.tls_ca_file", def: "", kind: kString, ptr: &c.ClickHouse.TLSCAFile,
			help: "PEM file of the CA that signed the server's certificate; empty uses the system roots"},
		{name: "clickhouse.tls_insecure_skip_verify", def: "false", kind: kBool, ptr: &c.ClickHouse.TLSInsecureSkipVerify,
			help: "accept any server certificate; for tests only"},
		{name: "clickhouse.max_execution_time", def: "60s", kind: kDuration, ptr: &c.ClickHouse.MaxExecutionTime, check: durationRange(time.Second, 24*time.Hour),
			help: "server-side time limit of each query; a cancelled client does not stop a running query, this does"},

		{name: "broker.port", def: "9092", kind: kInt, ptr: &c.Broker.Port, check: intRange(0, 65535),
			help: "TCP port of the embedded broker on 127.0.0.1; 0 picks a free port"},
		{name: "broker.data_dir", def: "", kind: kString, ptr: &c.Broker.DataDir,
			help: "folder where the embedded broker keeps topics and offsets across restarts; empty keeps them in memory"},

		{name: "normalize.group", def: "harrier-normalize", kind: kString, ptr: &c.Normalize.Group, check: nonEmpty,
			help: "consumer group of the normalizers; processes in one group share the partitions"},
		{name: "normalize.max_batch_bytes", def: "8388608", kind: kInt, ptr: &c.Normalize.MaxBatchBytes, check: intRange(1<<16, 1<<30),
			help: "maximum key and value bytes in one batch the normalizer stores"},
		{name: "normalize.queue_capacity", def: "5000", kind: kInt, ptr: &c.Normalize.QueueCapacity, check: intRange(1, 1000000),
			help: "messages fetched ahead of the batch being stored; with fetch_max_bytes it bounds memory while ClickHouse is slow"},
		{name: "normalize.fetch_max_bytes", def: "4194304", kind: kInt, ptr: &c.Normalize.FetchMaxBytes, check: intRange(1<<16, 1<<30),
			help: "maximum bytes of one fetch response per partition"},

		{name: "collect.host_id", def: "", kind: kString, ptr: &c.Collect.HostID,
			help: "host id sent with every record; empty reads /etc/machine-id"},
		{name: "collect.docker_root", def: "/var/lib/docker/containers", kind: kString, ptr: &c.Collect.DockerRoot,
			help: "Docker containers folder with <id>/<id>-json.log and config.v2.json; empty disables Docker logs"},
		{name: "collect.cri_root", def: "/var/log", kind: kString, ptr: &c.Collect.CRIRoot,
			help: "folder with the kubelet's pods/ and containers/ log folders (its pods/ folder works too); empty disables CRI logs"},
		{name: "collect.cgroup_root", def: "/sys/fs/cgroup", kind: kString, ptr: &c.Collect.CgroupRoot,
			help: "cgroup mount (v1, v2 or hybrid); empty disables cgroup stats"},
		{name: "collect.scan_dir", def: "", kind: kString, ptr: &c.Collect.ScanDir,
			help: "folder of Trivy JSON reports to ship; empty disables scan reports"},
		{name: "collect.host_root", def: "/", kind: kString, ptr: &c.Collect.HostRoot,
			help: "root under which /etc/os-release and /proc are read"},
		{name: "collect.posture", def: "true", kind: kBool, ptr: &c.Collect.Posture,
			help: "send the security settings of the host under collect.host_root and of its running Docker containers, when they change and at least daily"},
		{name: "collect.posture_firewall_file", def: "", kind: kString, ptr: &c.Collect.PostureFirewallFile,
			help: "file holding iptables-save or nft list ruleset output, read before the rule sets saved under /etc; empty reads only those"},
		{name: "collect.state_dir", def: "", kind: kString, ptr: &c.Collect.StateDir,
			help: "folder for read checkpoints; empty rereads every file from the start after a restart"},
		{name: "collect.interval", def: "10s", kind: kDuration, ptr: &c.Collect.Interval, check: durationRange(100*time.Millisecond, time.Hour),
			help: "how often cgroups are sampled and files are checked for new lines"},
		{name: "collect.max_cgroups", def: "2000", kind: kInt, ptr: &c.Collect.MaxCgroups, check: intRange(1, 1000000),
			help: "maximum number of cgroups sampled per interval"},
		{name: "collect.host_check_interval", def: "1m", kind: kDuration, ptr: &c.Collect.HostCheckInterval, check: durationRange(time.Second, 24*time.Hour),
			help: "how often host facts are read; they are sent when they change, after a reboot and at least hourly"},
		{name: "collect.docker_socket", def: "/var/run/docker.sock", kind: kString, ptr: &c.Collect.DockerSocket,
			help: "Docker Engine API socket whose event stream gives container lifecycle events; empty derives them from collect.docker_root only"},
		{name: "collect.spool", def: "true", kind: kBool, ptr: &c.Collect.Spool,
			help: "keep records in an on-disk spool under collect.state_dir while Kafka is unreachable, and send them in order when it returns"},
		{name: "collect.spool_max_bytes", def: "268435456", kind: kInt64, ptr: &c.Collect.SpoolMaxBytes, check: int64Range(1<<20, 1<<40),
			help: "maximum bytes of spool files on disk"},
		{name: "collect.spool_policy", def: "block", kind: kString, ptr: &c.Collect.SpoolPolicy, check: oneOf("block", "drop-oldest", "drop-newest"),
			help: "what a full spool does: block (reading pauses, nothing is lost), drop-oldest or drop-newest (counted)"},
		{name: "collect.compression", def: "lz4", kind: kString, ptr: &c.Collect.Compression, check: oneOf("none", "gzip", "snappy", "lz4", "zstd"),
			help: "compression of the batches the collector produces"},
		{name: "collect.scan_push_token", def: "", kind: kString, ptr: &c.Collect.ScanPushToken,
			help: "bearer token of POST /v1/scans on http.addr; empty with an empty token file turns the endpoint off; prefer collect.scan_push_token_file"},
		{name: "collect.scan_push_token_file", def: "", kind: kString, ptr: &c.Collect.ScanPushTokenFile,
			help: "file whose content (without a trailing newline) is the bearer token of POST /v1/scans"},
		{name: "collect.scan_push_max_bytes", def: "33554432", kind: kInt64, ptr: &c.Collect.ScanPushMaxBytes, check: int64Range(1024, 1<<32),
			help: "maximum body of a pushed scan report in bytes; larger bodies get HTTP 413"},
		{name: "collect.max_record_bytes", def: "1000000", kind: kInt64, ptr: &c.Collect.MaxRecordBytes, check: int64Range(1024, 1<<30),
			help: "maximum size of one encoded record in bytes; a larger log line, scan report or other record is dropped and counted as too_large (a pushed report gets HTTP 413); keep it under the broker's message.max.bytes (Kafka's default is 1048588)"},
		{name: "collect.scan_reject_dir", def: "", kind: kString, ptr: &c.Collect.ScanRejectDir,
			help: "folder where pushed reports that could not be parsed are kept; empty uses <state_dir>/rejected-scans, or keeps none without a state dir"},
		{name: "collect.redact", def: "true", kind: kBool, ptr: &c.Collect.Redact,
			help: "replace private keys, bearer tokens, cloud access keys and password values in log lines before they leave the host"},
		{name: "collect.multiline", def: "false", kind: kBool, ptr: &c.Collect.Multiline,
			help: "group the lines of a stack trace (Java, Python, Go) into one log record"},
		{name: "collect.multiline_start", def: "", kind: kString, ptr: &c.Collect.MultilineStart, check: regex,
			help: "regular expression that matches the first line of a record; empty uses the built-in stack-trace rules"},
		{name: "collect.multiline_max_lines", def: "500", kind: kInt, ptr: &c.Collect.MultilineMaxLines, check: intRange(1, 100000),
			help: "maximum lines in one grouped record"},
		{name: "collect.multiline_max_bytes", def: "65536", kind: kInt, ptr: &c.Collect.MultilineMaxBytes, check: intRange(1024, 16<<20),
			help: "maximum bytes in one grouped record"},
		{name: "collect.multiline_max_wait", def: "2s", kind: kDuration, ptr: &c.Collect.MultilineMaxWait, check: durationRange(10*time.Millisecond, time.Minute),
			help: "how long a grouped record waits for more lines before it is sent"},

		{name: "features.window", def: "1m", kind: kDuration, ptr: &c.Features.Window, check: durationRange(time.Second, 24*time.Hour),
			help: "length of the tumbling event-time windows features are computed over"},
		{name: "features.allowed_lateness", def: "30s", kind: kDuration, ptr: &c.Features.AllowedLateness, check: durationRange(0, 24*time.Hour),
			help: "how far behind the newest event time a record may arrive and still count in its window"},
		{name: "features.templates", def: "true", kind: kBool, ptr: &c.Features.Templates,
			help: "mine log templates (Drain) per image: events store their template id, and new templates count as a feature"},
		{name: "features.template_similarity", def: "0.5", kind: kFloat, ptr: &c.Features.TemplateSimilarity, check: floatRange(0.01, 1),
			help: "share of tokens a line must have in common with a template to join it"},
		{name: "features.template_max_per_key", def: "10000", kind: kInt, ptr: &c.Features.TemplateMaxPerKey, check: intRange(10, 10000000),
			help: "maximum templates kept per image; lines beyond it get no template"},

		{name: "models.trees", def: "100", kind: kInt, ptr: &c.Models.Trees, check: intRange(1, 10000),
			help: "trees in the isolation forest"},
		{name: "models.subsample", def: "256", kind: kInt, ptr: &c.Models.Subsample, check: intRange(2, 1<<20),
			help: "training rows drawn for each tree"},
		{name: "models.min_training_windows", def: "30", kind: kInt, ptr: &c.Models.MinTrainingWindows, check: intRange(2, 1<<20),
			help: "windows needed before the model scores; earlier windows only train it"},
		{name: "models.contamination", def: "0.01", kind: kFloat, ptr: &c.Models.Contamination, check: floatRange(0.0001, 0.5),
			help: "share of training windows expected to be anomalous; sets the score threshold"},
		{name: "models.seed", def: "1", kind: kInt64, ptr: &c.Models.Seed,
			help: "random seed of model training, for repeatable scores"},
		{name: "models.workload_labels", def: "app.kubernetes.io/name,app", kind: kStrings, ptr: &c.Models.WorkloadLabels,
			help: "container labels that name a workload, first match wins; without one the pod's owner, then the image repository, is the workload"},
		{name: "models.min_workload_windows", def: "1440", kind: kInt, ptr: &c.Models.MinWorkloadWindows, check: intRange(2, 1<<20),
			help: "training windows a workload needs before its own model scores it; until then the fleet model does and its alerts say so"},
		{name: "models.history", def: "168h", kind: kDuration, ptr: &c.Models.History, check: durationRange(time.Minute, 365*24*time.Hour),
			help: "maximum age, in event time, of the windows a model is trained on; idle workloads are forgotten after it"},
		{name: "models.fleet_history_windows", def: "50000", kind: kInt, ptr: &c.Models.FleetHistoryWindows, check: intRange(10, 10000000),
			help: "maximum training windows of the fleet model; the oldest leave first"},
		{name: "models.workload_history_windows", def: "10080", kind: kInt, ptr: &c.Models.WorkloadHistoryWindows, check: intRange(10, 10000000),
			help: "maximum training windows of each workload model; the oldest leave first"},
		{name: "models.retrain_interval", def: "1h", kind: kDuration, ptr: &c.Models.RetrainInterval, check: durationRange(time.Minute, 30*24*time.Hour),
			help: "event time after which a model is fitted again; models are also fitted when their history grows by a quarter and after an image digest change"},
		{name: "models.dir", def: "", kind: kString, ptr: &c.Models.Dir,
			help: "folder where every fitted model is saved with its metadata, listed by 'harrier models list'; empty keeps models in memory only"},
		{name: "models.keep_versions", def: "10", kind: kInt, ptr: &c.Models.KeepVersions, check: intRange(1, 100000),
			help: "model versions kept in models.dir per workload; older ones are deleted"},

		{name: "alerting.rules_file", def: "", kind: kString, ptr: &c.Alerting.RulesFile,
			help: "YAML policy rules; empty uses the built-in rules"},
		{name: "alerting.posture_file", def: "", kind: kString, ptr: &c.Alerting.PostureFile,
			help: "YAML posture policies loaded beside the rules; empty uses the built-in pack, none loads no posture policy"},
		{name: "alerting.posture_overrides_file", def: "", kind: kString, ptr: &c.Alerting.PostureOverridesFile,
			help: "YAML file that disables posture policies, changes their severity or adds exceptions by label with an expiry; empty changes nothing"},
		{name: "alerting.eval_interval", def: "30s", kind: kDuration, ptr: &c.Alerting.EvalInterval, check: durationRange(time.Second, 24*time.Hour),
			help: "how often policy rules are evaluated"},
		{name: "alerting.dedup", def: "1h", kind: kDuration, ptr: &c.Alerting.Dedup, check: durationRange(0, 30*24*time.Hour),
			help: "an alert with the same fingerprint within this period is not raised again"},
		{name: "alerting.routing_file", def: "", kind: kString, ptr: &c.Alerting.RoutingFile,
			help: "YAML routing tree and receivers (Alertmanager, PagerDuty, Slack, webhook); empty sends no notifications"},
		{name: "alerting.link_template", def: "", kind: kString, ptr: &c.Alerting.LinkTemplate,
			help: "Go text/template of the Grafana URL each notification links to; empty sends no link"},
		{name: "alerting.resolve_windows", def: "3", kind: kInt, ptr: &c.Alerting.ResolveWindows, check: intRange(1, 10000),
			help: "windows without a new model alert after which a model alert resolves"},

		{name: "log.level", def: "info", kind: kString, ptr: &c.Log.Level, check: oneOf("debug", "info", "warn", "error"),
			help: "lowest level of the process log on stderr"},
		{name: "log.format", def: "text", kind: kString, ptr: &c.Log.Format, check: oneOf("text", "json"),
			help: "format of the process log"},

		{name: "http.addr", def: "", kind: kString, ptr: &c.HTTP.Addr, check: optionalHostPort,
			help: "address of the /healthz and /metrics endpoint, such as 127.0.0.1:9464; empty disables it"},
	}
}

func nonEmpty(v any) string {
	if v.(string) == "" {
		return "expected a non-empty value"
	}
	return ""
}

func regex(v any) string {
	if _, err := regexp.Compile(v.(string)); err != nil {
		return "expected a regular expression (RE2 syntax): " + err.Error()
	}
	return ""
}

func hostPort(v any) string {
	s := v.(string)
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return "expected host:port, such as 127.0.0.1:9000"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "expected a port from 1 to 65535"
	}
	return ""
}

func optionalHostPort(v any) string {
	if v.(string) == "" {
		return ""
	}
	return hostPort(v)
}

func hostPorts(v any) string {
	list := v.([]string)
	if len(list) == 0 {
		return "expected at least one host:port"
	}
	for _, s := range list {
		if msg := hostPort(s); msg != "" {
			return msg
		}
	}
	return ""
}

func topicPrefix(v any) string {
	for _, r := range v.(string) {
		ok := r == '.' || r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !ok {
			return "expected letters, digits, '.', '_' or '-'"
		}
	}
	return ""
}

func identifier(v any) string {
	s := v.(string)
	if s == "" {
		return "expected a name of letters, digits and '_' starting with a letter"
	}
	for i, r := range s {
		ok := r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9'
		if !ok {
			return "expected a name of letters, digits and '_' starting with a letter"
		}
	}
	return ""
}

func int64Range(lo, hi int64) func(any) string {
	return func(v any) string {
		if n := v.(int64); n < lo || n > hi {
			return fmt.Sprintf("expected an integer from %d to %d", lo, hi)
		}
		return ""
	}
}

func intRange(lo, hi int) func(any) string {
	return func(v any) string {
		if n := v.(int); n < lo || n > hi {
			return fmt.Sprintf("expected an integer from %d to %d", lo, hi)
		}
		return ""
	}
}

func floatRange(lo, hi float64) func(any) string {
	return func(v any) string {
		if f := v.(float64); f < lo || f > hi {
			return fmt.Sprintf("expected a number from %g to %g", lo, hi)
		}
		return ""
	}
}

func durationRange(lo, hi time.Duration) func(any) string {
	return func(v any) string {
		if d := v.(time.Duration); d < lo || d > hi {
			return fmt.Sprintf("expected a duration from %s to %s", lo, hi)
		}
		return ""
	}
}

func oneOf(allowed ...string) func(any) string {
	return func(v any) string {
		for _, a := range allowed {
			if v.(string) == a {
				return ""
			}
		}
		return fmt.Sprintf("expected one of %v", allowed)
	}
}
