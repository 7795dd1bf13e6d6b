package route

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/harrierhq/harrier/alerting/notify"
	"gopkg.in/yaml.v3"
)

// maxConfigBytes caps the size of a routing config file.
const maxConfigBytes = 1 << 20

var (
	labelNamePattern    = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	receiverNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$`)
	envReference        = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)
)

// Config is a loaded and validated routing config.
type Config struct {
	// Root is the root of the routing tree. It matches every alert.
	Root *Route
	// Receivers are the receivers by name.
	Receivers map[string]*Receiver
	// Retry bounds the attempts of every receiver.
	Retry notify.RetryConfig
	// RateLimit caps the notifications per rule; zero Max means no limit.
	RateLimit RateLimit
	// Cooldown delays a resolve notification: an alert that fires again
	// within Cooldown of clearing continues as the same firing alert and
	// is neither resolved nor notified again. Zero resolves at once.
	Cooldown time.Duration
}

// RateLimit caps the notifications that carry firing alerts of one rule or
// model (the alertname label) to Max in any Per period. Resolve
// notifications are not limited.
type RateLimit struct {
	Max int
	Per time.Duration
}

// Receiver is a named set of integrations. A notification routed to it
// goes to each integration.
type Receiver struct {
	Name         string
	Integrations []notify.Notifier
}

// Error is a problem in a routing config, located by file, line and field.
type Error struct {
	File  string
	Line  int
	Field string
	// Message states what is wrong and what is expected.
	Message string
}

// Error formats the problem as "file:line: field: message".
func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Message)
}

// Load reads and validates the routing config at path. client is the HTTP
// client of every integration; nil uses one with notify.DefaultTimeout.
func Load(path string, client *http.Client) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open routing config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read routing config %s: %w", path, err)
	}
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("invalid routing config %s: larger than %d bytes", path, maxConfigBytes)
	}
	return Parse(path, data, client)
}

// Parse validates a routing config. name is used in errors. Every problem
// found is returned, each as an *Error, joined with errors.Join. Values of
// the form ${NAME} in secret fields are read from the environment.
func Parse(name string, data []byte, client *http.Client) (*Config, error) {
	if client == nil {
		client = &http.Client{Timeout: notify.DefaultTimeout}
	}
	p := &parser{file: name, client: client}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("invalid routing config %s: %w", name, err)
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, &Error{File: name, Line: 1, Field: "route", Message: "missing: the file is empty"}
	}
	cfg := p.parseConfig(root.Content[0])
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return cfg, nil
}

type parser struct {
	file   string
	client *http.Client
	errs   []error
}

func (p *parser) fail(n *yaml.Node, field, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: n.Line, Field: field, Message: fmt.Sprintf(format, args...)})
}

// fields checks that n is a mapping with only known keys, each once.
func (p *parser) fields(n *yaml.Node, path string, known ...string) map[string]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		p.fail(n, path, "invalid value: expected a mapping")
		return nil
	}
	out := make(map[string]*yaml.Node)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], n.Content[i+1]
		field := join(path, key.Value)
		switch {
		case !slices.Contains(known, key.Value):
			p.fail(key, field, "unknown field: expected one of %s", strings.Join(known, ", "))
		case out[key.Value] != nil:
			p.fail(key, field, "duplicate field")
		default:
			out[key.Value] = value
		}
	}
	return out
}

func (p *parser) str(n *yaml.Node, field string) (string, bool) {
	if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		p.fail(n, field, "invalid value: expected a string")
		return "", false
	}
	return n.Value, true
}

// secret reads a field that may hold ${ENV_NAME}. The value itself never
// appears in an error.
func (p *parser) secret(n *yaml.Node, field string) (string, bool) {
	v, ok := p.str(n, field)
	if !ok {
		return "", false
	}
	if m := envReference.FindStringSubmatch(v); m != nil {
		env, set := os.LookupEnv(m[1])
		if !set || env == "" {
			p.fail(n, field, "missing environment variable %s: set it or write the value in the file", m[1])
			return "", false
		}
		return env, true
	}
	return v, true
}

func (p *parser) duration(n *yaml.Node, field string, min time.Duration) (time.Duration, bool) {
	v, ok := p.str(n, field)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < min {
		p.fail(n, field, "invalid duration %q: expected a Go duration of at least %s, such as 30s or 5m", v, min)
		return 0, false
	}
	return d, true
}

func (p *parser) integer(n *yaml.Node, field string, min int) (int, bool) {
	v, ok := p.str(n, field)
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < min {
		p.fail(n, field, "invalid value %q: expected an integer of at least %d", v, min)
		return 0, false
	}
	return i, true
}

// httpURL reads a URL field that must be http or https with a host. The
// error shows only the redacted URL, because the path may hold a token.
func (p *parser) httpURL(n *yaml.Node, field string, isSecret bool) (string, bool) {
	var v string
	var ok bool
	if isSecret {
		v, ok = p.secret(n, field)
	} else {
		v, ok = p.str(n, field)
	}
	if !ok {
		return "", false
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.fail(n, field, "invalid URL %s: expected http:// or https:// with a host", notify.RedactURL(v))
		return "", false
	}
	return v, true
}

func (p *parser) parseConfig(doc *yaml.Node) *Config {
	f := p.fields(doc, "", "route", "receivers", "retry", "rate_limit", "cooldown")
	if f == nil {
		return nil
	}
	cfg := &Config{Receivers: map[string]*Receiver{}}

	if f["receivers"] == nil {
		p.fail(doc, "receivers", "missing: the config needs at least one receiver")
	} else {
		p.parseReceivers(f["receivers"], cfg)
	}

	if f["route"] == nil {
		p.fail(doc, "route", "missing: the config needs a root route")
	} else {
		parent := &Route{GroupWait: DefaultGroupWait, GroupInterval: DefaultGroupInterval, RepeatInterval: DefaultRepeatInterval}
		cfg.Root = p.parseRoute(f["route"], "route", "0", parent, cfg, true)
	}

	if n := f["retry"]; n != nil {
		rf := p.fields(n, "retry", "attempts", "min_backoff", "max_backoff")
		if a, ok := p.integer(rf["attempts"], "retry.attempts", 1); ok {
			cfg.Retry.Attempts = a
		}
		if d, ok := p.duration(rf["min_backoff"], "retry.min_backoff", time.Millisecond); ok {
			cfg.Retry.MinBackoff = d
		}
		if d, ok := p.duration(rf["max_backoff"], "retry.max_backoff", time.Millisecond); ok {
			cfg.Retry.MaxBackoff = d
		}
	}
	if n := f["rate_limit"]; n != nil {
		rf := p.fields(n, "rate_limit", "max", "per")
		maxN, okMax := p.integer(rf["max"], "rate_limit.max", 1)
		per, okPer := p.duration(rf["per"], "rate_limit.per", time.Second)
		if !okMax || !okPer {
			p.fail(n, "rate_limit", "invalid value: expected both max and per, such as {max: 10, per: 1h}")
		}
		cfg.RateLimit = RateLimit{Max: maxN, Per: per}
	}
	if d, ok := p.duration(f["cooldown"], "cooldown", 0); ok {
		cfg.Cooldown = d
	}
	return cfg
}

func (p *parser) parseReceivers(n *yaml.Node, cfg *Config) {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.fail(n, "receivers", "invalid value: expected a non-empty list of receivers")
		return
	}
	for i, item := range n.Content {
		path := fmt.Sprintf("receivers[%d]", i)
		f := p.fields(item, path, "name", "alertmanager", "pagerduty", "slack", "webhook")
		if f == nil {
			continue
		}
		name, ok := p.str(f["name"], path+".name")
		switch {
		case !ok:
			p.fail(item, path+".name", "missing")
			continue
		case !receiverNamePattern.MatchString(name):
			p.fail(f["name"], path+".name", "invalid value %q: use letters, digits, '-', '_' or '.'", name)
			continue
		case cfg.Receivers[name] != nil:
			p.fail(f["name"], path+".name", "duplicate receiver name %q", name)
			continue
		}
		r := &Receiver{Name: name}
		if m := f["alertmanager"]; m != nil {
			af := p.fields(m, path+".alertmanager", "url")
			if u, ok := p.httpURL(af["url"], path+".alertmanager.url", false); ok {
				r.Integrations = append(r.Integrations, &notify.Alertmanager{URL: u, Client: p.client})
			} else if af != nil && af["url"] == nil {
				p.fail(m, path+".alertmanager.url", "missing: expected the Alertmanager base URL, such as http://127.0.0.1:9093")
			}
		}
		if m := f["pagerduty"]; m != nil {
			pf := p.fields(m, path+".pagerduty", "routing_key", "url", "source")
			pd := &notify.PagerDuty{URL: notify.DefaultPagerDutyURL, Client: p.client}
			if key, ok := p.secret(pf["routing_key"], path+".pagerduty.routing_key"); ok && key != "" {
				pd.RoutingKey = key
			} else if pf != nil && pf["routing_key"] == nil {
				p.fail(m, path+".pagerduty.routing_key", "missing: expected the service's integration key or ${ENV_NAME}")
			}
			if pf["url"] != nil {
				if u, ok := p.httpURL(pf["url"], path+".pagerduty.url", false); ok {
					pd.URL = u
				}
			}
			pd.Source, _ = p.str(pf["source"], path+".pagerduty.source")
			r.Integrations = append(r.Integrations, pd)
		}
		if m := f["slack"]; m != nil {
			sf := p.fields(m, path+".slack", "webhook_url", "channel")
			if u, ok := p.httpURL(sf["webhook_url"], path+".slack.webhook_url", true); ok {
				channel, _ := p.str(sf["channel"], path+".slack.channel")
				r.Integrations = append(r.Integrations, &notify.Slack{WebhookURL: u, Channel: channel, Client: p.client})
			} else if sf != nil && sf["webhook_url"] == nil {
				p.fail(m, path+".slack.webhook_url", "missing: expected the incoming webhook URL or ${ENV_NAME}")
			}
		}
		if m := f["webhook"]; m != nil {
			wf := p.fields(m, path+".webhook", "url", "secret", "header")
			u, ok := p.httpURL(wf["url"], path+".webhook.url", true)
			if !ok && wf != nil && wf["url"] == nil {
				p.fail(m, path+".webhook.url", "missing")
			}
			secret, _ := p.secret(wf["secret"], path+".webhook.secret")
			header, _ := p.str(wf["header"], path+".webhook.header")
			if ok {
				r.Integrations = append(r.Integrations, &notify.Webhook{URL: u, Secret: []byte(secret), Header: header, Client: p.client})
			}
		}
		if len(r.Integrations) == 0 && len(f) == 1 {
			p.fail(item, path, "missing integration: expected one or more of alertmanager, pagerduty, slack, webhook")
		}
		cfg.Receivers[name] = r
	}
}

func (p *parser) parseRoute(n *yaml.Node, path, id string, parent *Route, cfg *Config, root bool) *Route {
	f := p.fields(n, path, "receiver", "group_by", "group_wait", "group_interval", "repeat_interval",
		"match", "match_re", "continue", "routes")
	if f == nil {
		return nil
	}
	r := &Route{ID: id, Receiver: parent.Receiver, GroupBy: parent.GroupBy, GroupWait: parent.GroupWait,
		GroupInterval: parent.GroupInterval, RepeatInterval: parent.RepeatInterval,
		Matchers: map[string]string{}, MatchRE: map[string]*regexp.Regexp{}}

	if v, ok := p.str(f["receiver"], path+".receiver"); ok {
		if cfg.Receivers[v] == nil && len(cfg.Receivers) > 0 {
			p.fail(f["receiver"], path+".receiver", "unknown receiver %q: define it under receivers", v)
		}
		r.Receiver = v
	} else if root {
		p.fail(n, path+".receiver", "missing: the root route needs a receiver")
	}

	if g := f["group_by"]; g != nil {
		if g.Kind != yaml.SequenceNode {
			p.fail(g, path+".group_by", "invalid value: expected a list of label names")
		} else {
			r.GroupBy = nil
			for i, item := range g.Content {
				field := fmt.Sprintf("%s.group_by[%d]", path, i)
				v, _ := p.str(item, field)
				if v == "..." && len(g.Content) == 1 {
					r.GroupBy = []string{"..."}
					continue
				}
				if !labelNamePattern.MatchString(v) {
					p.fail(item, field, "invalid label name %q: expected letters, digits and '_', or '...' alone", v)
					continue
				}
				r.GroupBy = append(r.GroupBy, v)
			}
		}
	}
	if d, ok := p.duration(f["group_wait"], path+".group_wait", 0); ok {
		r.GroupWait = d
	}
	if d, ok := p.duration(f["group_interval"], path+".group_interval", time.Millisecond); ok {
		r.GroupInterval = d
	}
	if d, ok := p.duration(f["repeat_interval"], path+".repeat_interval", time.Millisecond); ok {
		r.RepeatInterval = d
	}

	if root && (f["match"] != nil || f["match_re"] != nil || f["continue"] != nil) {
		p.fail(n, path, "invalid field: the root route matches every alert, so it takes no match, match_re or continue")
	}
	p.parseMatchers(f["match"], path+".match", func(name, value string, node *yaml.Node) {
		r.Matchers[name] = value
	})
	p.parseMatchers(f["match_re"], path+".match_re", func(name, value string, node *yaml.Node) {
		re, err := regexp.Compile("^(?:" + value + ")$")
		if err != nil {
			p.fail(node, path+".match_re."+name, "invalid regular expression %q: %v", value, err)
			return
		}
		r.MatchRE[name] = re
	})
	if v, ok := p.str(f["continue"], path+".continue"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			p.fail(f["continue"], path+".continue", "invalid value %q: expected true or false", v)
		}
		r.Continue = b
	}

	if c := f["routes"]; c != nil {
		if c.Kind != yaml.SequenceNode {
			p.fail(c, path+".routes", "invalid value: expected a list of routes")
		} else {
			for i, item := range c.Content {
				child := p.parseRoute(item, fmt.Sprintf("%s.routes[%d]", path, i), fmt.Sprintf("%s/%d", id, i), r, cfg, false)
				if child != nil {
					r.Routes = append(r.Routes, child)
				}
			}
		}
	}
	return r
}

func (p *parser) parseMatchers(n *yaml.Node, path string, add func(name, value string, node *yaml.Node)) {
	if n == nil {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.fail(n, path, "invalid value: expected a mapping of label names to values")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], n.Content[i+1]
		if !labelNamePattern.MatchString(key.Value) {
			p.fail(key, join(path, key.Value), "invalid label name %q: expected letters, digits and '_'", key.Value)
			continue
		}
		v, ok := p.str(value, join(path, key.Value))
		if ok {
			add(key.Value, v, value)
		}
	}
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}
