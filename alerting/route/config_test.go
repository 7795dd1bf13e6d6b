package route

import (
	"errors"
	"strings"
	"testing"
)

func TestParseReportsFileLineField(t *testing.T) {
	_, err := Parse("routing.yaml", []byte(`route:
  receiver: missing
  group_wait: soon
receivers:
  - name: team
    slack: {webhook_url: "ftp://hooks.example/services/SECRET"}
`), nil)
	if err == nil {
		t.Fatal("Parse accepted an invalid config")
	}
	for _, want := range []string{
		`routing.yaml:2: route.receiver: unknown receiver "missing"`,
		`routing.yaml:3: route.group_wait: invalid duration "soon"`,
		`routing.yaml:6: receivers[0].slack.webhook_url: invalid URL`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("error shows the webhook URL's token: %v", err)
	}
	var re *Error
	if !errors.As(err, &re) {
		t.Errorf("error %T is not a *route.Error", err)
	}
}

func TestParseMissingEnvSecret(t *testing.T) {
	_, err := Parse("r.yaml", []byte(`route: {receiver: pd}
receivers:
  - name: pd
    pagerduty: {routing_key: "${HARRIER_UNSET_ROUTING_KEY}"}
`), nil)
	if err == nil || !strings.Contains(err.Error(), "missing environment variable HARRIER_UNSET_ROUTING_KEY") {
		t.Errorf("err = %v, expected a missing environment variable error", err)
	}
}

func TestRouteInheritsAndMatches(t *testing.T) {
	cfg, err := Parse("r.yaml", []byte(`route:
  receiver: team
  group_by: [alertname]
  group_interval: 2m
  routes:
    - match: {severity: critical}
      receiver: pager
receivers:
  - name: team
    webhook: {url: "http://127.0.0.1:1/a"}
  - name: pager
    webhook: {url: "http://127.0.0.1:1/b"}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	child := cfg.Root.Routes[0]
	if child.GroupInterval.Minutes() != 2 || child.GroupBy[0] != "alertname" {
		t.Errorf("child route = %+v, expected group_by and group_interval inherited", child)
	}
	got := cfg.Root.Match(map[string]string{"severity": "critical"})
	if len(got) != 1 || got[0].Receiver != "pager" {
		t.Errorf("critical alert routed to %v, expected pager", got)
	}
	got = cfg.Root.Match(map[string]string{"severity": "low"})
	if len(got) != 1 || got[0].Receiver != "team" {
		t.Errorf("low alert routed to %v, expected team", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("route: {receiver: a}\nreceivers: [{name: a, webhook: {url: 'http://127.0.0.1/x'}}]\n"))
	f.Add([]byte("route:\n  receiver: a\n  routes: [{match_re: {x: '('}}]\nreceivers: [{name: a}]\n"))
	f.Add([]byte("rate_limit: {max: 0}\ncooldown: -1s\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data, nil)
		if err == nil && (cfg == nil || cfg.Root == nil) {
			t.Fatal("Parse returned no error and no route")
		}
	})
}
