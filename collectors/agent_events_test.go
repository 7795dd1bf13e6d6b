package collectors_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harrierhq/harrier/collectors"
	"github.com/harrierhq/harrier/internal/record"
)

// TestAgentRunReadsEngineEvents serves GET /events on a unix socket in
// place of the Docker engine, which does not run where these tests run.
func TestAgentRunReadsEngineEvents(t *testing.T) {
	id := "3bd9d093368e3d0670f89c422f30ebc3f96bc629ce919c6b2b8a8f58eaf2125f"
	dir, err := os.MkdirTemp("", "dock")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	socket := filepath.Join(dir, "docker.sock")
	listener, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	server := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"Type":"container","Action":"die","Actor":{"ID":%q,"Attributes":{"exitCode":"2","name":"app"}},"time":1764493260,"timeNano":1764493260000000000}`+"\n", id)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})}
	go server.Serve(listener)
	defer server.Close()

	root := t.TempDir()
	writeDockerContainer(t, root, id, jsonLine("up", 1))
	out := &recordingEmitter{}
	agent := collectors.NewAgent(collectors.AgentConfig{
		HostID: "h1", DockerRoot: root, DockerSocket: socket, Interval: 20 * time.Millisecond,
	}, out, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- agent.Run(ctx) }()

	var engine []record.Lifecycle
	for ctx.Err() == nil && len(engine) == 0 {
		time.Sleep(20 * time.Millisecond)
		engine = engine[:0]
		for _, env := range kindMessages(t, out.messages(), record.KindLifecycle) {
			if !strings.HasPrefix(env.Source, "docker-events:") {
				continue
			}
			var l record.Lifecycle
			if err := json.Unmarshal(env.Payload, &l); err != nil {
				t.Fatal(err)
			}
			engine = append(engine, l)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	if len(engine) != 1 {
		t.Fatalf("engine events = %+v, expected 1", engine)
	}
	l := engine[0]
	if l.Event != record.EventExited || l.ExitCode != 2 || l.ContainerID != id {
		t.Errorf("engine event = %+v, expected exited with code 2", l)
	}
	if l.ImageID != "sha256:abc" {
		t.Errorf("engine event image = %q, expected the container's sha256:abc", l.ImageID)
	}
}
