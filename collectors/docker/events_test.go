package docker_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/harrierhq/harrier/collectors/docker"
	"github.com/harrierhq/harrier/internal/record"
)

// Messages in the shape the Docker Engine API's GET /events writes them.
const (
	engineCreate = `{"status":"create","id":"` + lifecycleID + `","from":"nginx:1","Type":"container","Action":"create","Actor":{"ID":"` + lifecycleID + `","Attributes":{"image":"nginx:1","name":"web"}},"scope":"local","time":1764493200,"timeNano":1764493200100000000}`
	engineStart  = `{"status":"start","id":"` + lifecycleID + `","from":"nginx:1","Type":"container","Action":"start","Actor":{"ID":"` + lifecycleID + `","Attributes":{"image":"nginx:1","name":"web"}},"scope":"local","time":1764493200,"timeNano":1764493200200000000}`
	engineExec   = `{"status":"exec_start: sh","id":"` + lifecycleID + `","Type":"container","Action":"exec_start: sh","Actor":{"ID":"` + lifecycleID + `","Attributes":{"name":"web"}},"scope":"local","time":1764493201,"timeNano":1764493201000000000}`
	engineNet    = `{"Type":"network","Action":"connect","Actor":{"ID":"b1f2","Attributes":{"container":"` + lifecycleID + `","name":"bridge","type":"bridge"}},"scope":"local","time":1764493201,"timeNano":1764493201100000000}`
	engineBad    = `{"Type":"container","Action":"die","Actor":{"ID":"` + lifecycleID + `","Attributes":{"exitCode":"x"}},"time":1764493202}`
	engineDie    = `{"status":"die","id":"` + lifecycleID + `","from":"nginx:1","Type":"container","Action":"die","Actor":{"ID":"` + lifecycleID + `","Attributes":{"exitCode":"137","image":"nginx:1","name":"web"}},"scope":"local","time":1764493260,"timeNano":1764493260000000000}`
	engineOOM    = `{"status":"oom","id":"` + lifecycleID + `","from":"nginx:1","Type":"container","Action":"oom","Actor":{"ID":"` + lifecycleID + `","Attributes":{"image":"nginx:1","name":"web"}},"scope":"local","time":1764493259,"timeNano":1764493259900000000}`
)

// fakeEngine serves GET /events on a unix socket. It replaces the
// Docker engine, which does not run where these tests run: the first
// request gets the first batch and the stream ends, as when the engine
// restarts; later requests get the second batch and stay open.
type fakeEngine struct {
	mu     sync.Mutex
	since  []string
	first  []string
	second []string
}

func (f *fakeEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/events" {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	f.since = append(f.since, r.URL.Query().Get("since"))
	n := len(f.since)
	f.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	lines := f.first
	if n > 1 {
		lines = f.second
	}
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	w.(http.Flusher).Flush()
	if n > 1 {
		<-r.Context().Done()
	}
}

func startFakeEngine(t *testing.T, engine *fakeEngine) string {
	t.Helper()
	// A unix socket path is limited to 108 bytes, so the folder is short.
	dir, err := os.MkdirTemp("", "dock")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	socket := filepath.Join(dir, "docker.sock")
	listener, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	server := &http.Server{Handler: engine}
	go server.Serve(listener)
	t.Cleanup(func() { server.Close() })
	return socket
}

func TestEventStreamReadsAndReconnects(t *testing.T) {
	engine := &fakeEngine{
		first:  []string{engineCreate, engineStart, engineExec, engineNet, engineBad},
		second: []string{engineOOM, engineDie},
	}
	socket := startFakeEngine(t, engine)

	var mu sync.Mutex
	var events []record.Lifecycle
	stream := docker.NewEventStream(socket, func(l record.Lifecycle) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, l)
	}, nil)
	stream.Retry = 10 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- stream.Run(ctx) }()

	for {
		mu.Lock()
		n := len(events)
		mu.Unlock()
		if n >= 4 || ctx.Err() != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !stream.Live() {
		t.Error("stream not live while connected")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, expected nil", err)
	}

	mu.Lock()
	defer mu.Unlock()
	var got []string
	for _, e := range events {
		got = append(got, fmt.Sprintf("%s/%d", e.Event, e.ExitCode))
	}
	want := []string{"created/0", "started/0", "oom_killed/0", "exited/137"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events = %v, expected %v", got, want)
	}
	if events[0].ContainerID != lifecycleID || events[0].ContainerName != "web" {
		t.Errorf("event container %q name %q", events[0].ContainerID, events[0].ContainerName)
	}
	if events[1].TimeNs != 1764493200200000000 {
		t.Errorf("start time = %d", events[1].TimeNs)
	}

	engine.mu.Lock()
	defer engine.mu.Unlock()
	if len(engine.since) < 2 || engine.since[0] != "" || engine.since[1] != "1764493200.200000000" {
		t.Errorf("since parameters = %q, expected none and then the last event's time", engine.since)
	}
	stats := stream.Stats()
	if stats.ParseErrors != 1 {
		t.Errorf("parse errors = %d, expected 1", stats.ParseErrors)
	}
	if stats.Connects < 2 {
		t.Errorf("connects = %d, expected at least 2", stats.Connects)
	}
}

func TestParseEngineEventErrors(t *testing.T) {
	cases := []string{
		`{`,
		`{"Type":"container","Action":"start","Actor":{"ID":""},"timeNano":1}`,
		`{"Type":"container","Action":"start","Actor":{"ID":"a"}}`,
		engineBad,
	}
	for _, c := range cases {
		if _, _, err := docker.ParseEngineEvent([]byte(c)); err == nil {
			t.Errorf("ParseEngineEvent(%s) returned no error", c)
		}
	}
}

func FuzzParseEngineEvent(f *testing.F) {
	for _, s := range []string{engineCreate, engineStart, engineExec, engineNet, engineBad, engineDie, engineOOM} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, ok, err := docker.ParseEngineEvent(b)
		if err != nil || !ok {
			return
		}
		if l.ContainerID == "" || l.TimeNs <= 0 || l.Event == "" {
			t.Errorf("incomplete event accepted: %+v", l)
		}
	})
}
