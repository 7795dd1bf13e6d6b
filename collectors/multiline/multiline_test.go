package multiline_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/harrierhq/harrier/collectors/docker"
	"github.com/harrierhq/harrier/collectors/internal/tail"
	"github.com/harrierhq/harrier/collectors/multiline"
	"github.com/harrierhq/harrier/internal/record"
)

const javaTrace = `2026-11-30 10:00:01.123 ERROR 1 --- [nio-8080-exec-3] o.a.c.c.C.[.[.[/].[dispatcherServlet] : Servlet.service() threw exception
java.lang.IllegalStateException: Order 42 has no lines
	at com.example.shop.OrderService.total(OrderService.java:87)
	at com.example.shop.OrderController.checkout(OrderController.java:41)
	at java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)
Caused by: java.lang.NullPointerException: Cannot invoke "java.util.List.size()" because "lines" is null
	at com.example.shop.Order.lineCount(Order.java:19)
	... 52 common frames omitted`

const pythonTrace = `ERROR:app:payment failed
Traceback (most recent call last):
  File "/app/pay.py", line 12, in charge
    resp = client.post(url, json=body)
  File "/usr/lib/python3.12/site-packages/requests/api.py", line 115, in post
    return request("post", url, data=data, json=json, **kwargs)
requests.exceptions.ConnectionError: HTTPSConnectionPool(host='pay.internal', port=443)

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/app/pay.py", line 15, in charge
    raise PaymentError("gateway down")
pay.PaymentError: gateway down`

const goPanic = `panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a1b2c]

goroutine 18 [running]:
main.(*Server).handle(0x0, {0x7f1c40, 0xc0000a6000})
	/src/server.go:57 +0x2c
net/http.HandlerFunc.ServeHTTP(0xc000120000, {0x7f1c40, 0xc0000a6000}, 0xc000150000)
	/usr/local/go/src/net/http/server.go:2220 +0x29
created by net/http.(*Server).Serve in goroutine 1
	/usr/local/go/src/net/http/server.go:3285 +0x4b4`

// decodeAll feeds the lines through a grouping docker decoder, one
// json-file line each, and returns the messages of the records.
func decodeAll(t *testing.T, cfg multiline.Config, now func() time.Time, lines []string) []string {
	t.Helper()
	dec, err := multiline.NewDecoder(docker.NewDecoder(docker.Target{ContainerID: "c"}), cfg, now)
	if err != nil {
		t.Fatal(err)
	}
	var entries []tail.Entry
	offset := int64(0)
	for i, l := range lines {
		b, _ := json.Marshal(map[string]string{"log": l + "\n", "stream": "stdout", "time": fmt.Sprintf("2026-11-30T10:00:%02d.000000001Z", i%60)})
		got, err := dec.Decode("app.log", b, offset, offset+int64(len(b))+1)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, got...)
		offset += int64(len(b)) + 1
	}
	entries = append(entries, dec.Flush()...)
	var out []string
	for _, e := range entries {
		out = append(out, e.Record.Payload.(record.Log).Message)
	}
	return out
}

func TestGroupsStackTraces(t *testing.T) {
	var lines []string
	want := []string{"2026-11-30 10:00:00.001 INFO started"}
	lines = append(lines, want[0])
	for _, trace := range []string{javaTrace, pythonTrace, goPanic} {
		lines = append(lines, strings.Split(trace, "\n")...)
		lines = append(lines, "GET /healthz 200")
		want = append(want, trace, "GET /healthz 200")
	}
	got := decodeAll(t, multiline.Config{}, nil, lines)
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d:\n%s", len(got), len(want), strings.Join(got, "\n---\n"))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d =\n%s\nwant\n%s", i, got[i], want[i])
		}
	}
}

func TestStartPattern(t *testing.T) {
	lines := []string{"2026-11-30 a", "not a start", "2026-11-30 b", "  x"}
	got := decodeAll(t, multiline.Config{StartPattern: `^\d{4}-\d{2}-\d{2} `}, nil, lines)
	want := []string{"2026-11-30 a\nnot a start", "2026-11-30 b\n  x"}
	if !slices.Equal(got, want) {
		t.Errorf("records = %q, want %q", got, want)
	}
}

func TestInvalidStartPattern(t *testing.T) {
	_, err := multiline.NewDecoder(docker.NewDecoder(docker.Target{}), multiline.Config{StartPattern: "("}, nil)
	if err == nil || !strings.Contains(err.Error(), `"("`) {
		t.Fatalf("error = %v, want one naming the pattern", err)
	}
}

func TestMaxLinesAndBytes(t *testing.T) {
	lines := []string{"start", "\tone", "\ttwo", "\tthree"}
	if got := decodeAll(t, multiline.Config{MaxLines: 2}, nil, lines); !slices.Equal(got, []string{"start\n\tone", "\ttwo\n\tthree"}) {
		t.Errorf("MaxLines 2: records = %q", got)
	}
	if got := decodeAll(t, multiline.Config{MaxBytes: 12}, nil, lines); !slices.Equal(got, []string{"start\n\tone", "\ttwo\n\tthree"}) {
		t.Errorf("MaxBytes 12: records = %q", got)
	}
}

func TestMaxWait(t *testing.T) {
	clock := time.Unix(0, 0)
	now := func() time.Time { return clock }
	dec, err := multiline.NewDecoder(docker.NewDecoder(docker.Target{ContainerID: "c"}), multiline.Config{MaxWait: time.Second}, now)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(`{"log":"Exception in thread \"main\" java.lang.Error\n","stream":"stderr","time":"2026-11-30T10:00:00Z"}`)
	if got, _ := dec.Decode("p", line, 0, int64(len(line))+1); len(got) != 0 {
		t.Fatalf("first line returned %d records, want it pending", len(got))
	}
	if dec.PendingStart() != 0 {
		t.Errorf("PendingStart = %d, want 0 while the record waits", dec.PendingStart())
	}
	if got := dec.Expire(false); len(got) != 0 {
		t.Errorf("Expire before MaxWait returned %d records", len(got))
	}
	clock = clock.Add(time.Second)
	got := dec.Expire(false)
	if len(got) != 1 {
		t.Fatalf("Expire after MaxWait returned %d records, want 1", len(got))
	}
	if dec.PendingStart() != -1 {
		t.Errorf("PendingStart = %d after Expire, want -1", dec.PendingStart())
	}
}

func TestIsStart(t *testing.T) {
	starts := []string{"2026-11-30T10:00:00Z INFO ok", "GET /healthz 200", "panic: boom", "ERROR:app:failed", "Exception in thread \"main\" java.lang.Error"}
	continuations := []string{"", "\tat com.example.A.b(A.java:1)", "  File \"x.py\", line 1, in f", "Caused by: java.io.IOException",
		"... 12 more", "java.lang.IllegalStateException: x", "ValueError: bad", "Traceback (most recent call last):",
		"goroutine 1 [running]:", "main.main()", "net/http.(*conn).serve(0xc000120000, {0x7f1c40, 0xc0000a6000})", "created by main.run in goroutine 1"}
	for _, s := range starts {
		if !multiline.IsStart(s) {
			t.Errorf("IsStart(%q) = false, want true", s)
		}
	}
	for _, s := range continuations {
		if multiline.IsStart(s) {
			t.Errorf("IsStart(%q) = true, want false", s)
		}
	}
}

func FuzzDecoder(f *testing.F) {
	for _, s := range []string{javaTrace, pythonTrace, goPanic} {
		f.Add(s, 3, 200)
	}
	f.Fuzz(func(t *testing.T, text string, maxLines, maxBytes int) {
		dec, err := multiline.NewDecoder(docker.NewDecoder(docker.Target{ContainerID: "c"}), multiline.Config{MaxLines: maxLines % 1000, MaxBytes: maxBytes % 100000}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		offset := int64(0)
		lines := strings.Split(text, "\n")
		for _, l := range lines {
			b, _ := json.Marshal(map[string]string{"log": l + "\n", "stream": "stdout", "time": "2026-11-30T10:00:00Z"})
			entries, err := dec.Decode("p", b, offset, offset+int64(len(b))+1)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				got = append(got, e.Record.Payload.(record.Log).Message)
			}
			offset += int64(len(b)) + 1
		}
		for _, e := range dec.Flush() {
			got = append(got, e.Record.Payload.(record.Log).Message)
		}
		// json.Marshal replaces invalid UTF-8, so compare line counts.
		if n := strings.Count(strings.Join(got, "\n"), "\n") + 1; n != len(lines) {
			t.Errorf("records hold %d lines, input had %d", n, len(lines))
		}
	})
}
