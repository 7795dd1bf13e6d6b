package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harrierhq/harrier/internal/config"
	"gopkg.in/yaml.v3"
)

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Command     []string          `yaml:"command"`
		Volumes     []string          `yaml:"volumes"`
		Ports       []string          `yaml:"ports"`
		Environment map[string]string `yaml:"environment"`
	} `yaml:"services"`
}

// The compose file cannot be run here (no Docker engine), so this test
// checks what can be checked without one: the services, the commands they
// run, the files they mount and the config they load.
func TestComposeFile(t *testing.T) {
	data, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, name := range []string{"kafka", "clickhouse", "grafana", "alertmanager", "migrate", "collect", "normalize", "score", "alert"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("service %s missing", name)
		}
	}
	roles := map[string]bool{}
	for _, cmd := range commands() {
		roles[cmd.name] = true
	}
	for name, s := range c.Services {
		if s.Image == "" {
			t.Errorf("service %s has no image", name)
		}
		if s.Image == "harrier:dev" {
			if len(s.Command) == 0 || !roles[s.Command[0]] {
				t.Errorf("service %s runs %v, not a harrier command", name, s.Command)
			}
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, "./") {
				if _, err := os.Stat(filepath.Join("../..", src)); err != nil {
					t.Errorf("service %s mounts %s, which does not exist", name, src)
				}
			}
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("service %s publishes %s on every interface; bind it to 127.0.0.1", name, p)
			}
		}
		for k, v := range s.Environment {
			if strings.HasPrefix(k, "HARRIER_") && k != "HARRIER_CONFIG" {
				t.Setenv(k, v)
			}
		}
	}
	if _, err := os.Stat("../../Dockerfile"); err != nil {
		t.Errorf("the harrier image is built from ./Dockerfile: %v", err)
	}

	// The config the containers load must be valid.
	fs := flag.NewFlagSet("compose", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	l := config.NewLoader(fs)
	if err := fs.Parse([]string{"--config", "../../deploy/harrier.yaml"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := l.Load()
	if err != nil {
		t.Fatalf("deploy/harrier.yaml: %v", err)
	}
	if cfg.Kafka.Brokers[0] != "kafka:9092" || cfg.ClickHouse.Addr != "clickhouse:9000" {
		t.Errorf("deploy/harrier.yaml points at %v and %s, not the compose services", cfg.Kafka.Brokers, cfg.ClickHouse.Addr)
	}
}
