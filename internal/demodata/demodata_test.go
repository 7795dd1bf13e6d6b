package demodata_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harrierhq/harrier/internal/demodata"
)

// tree maps every file and symlink under root to its contents or target.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			files[rel] = "symlink -> " + target
		case d.Type().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func diff(t *testing.T, got, want map[string]string) {
	t.Helper()
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("missing %s", name)
			continue
		}
		if g != w {
			t.Errorf("%s differs", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected %s", name)
		}
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if err := demodata.Generate(a, 7); err != nil {
		t.Fatal(err)
	}
	if err := demodata.Generate(b, 7); err != nil {
		t.Fatal(err)
	}
	diff(t, tree(t, a), tree(t, b))
}

func TestCommittedBundleMatchesGenerator(t *testing.T) {
	dir := t.TempDir()
	if err := demodata.Generate(dir, demodata.DefaultSeed); err != nil {
		t.Fatal(err)
	}
	got := tree(t, "../../testdata/demo")
	if len(got) == 0 {
		t.Fatal("testdata/demo is empty: run go run ./internal/demodata/cmd/gen")
	}
	diff(t, got, tree(t, dir))
	if t.Failed() {
		t.Log("regenerate with: go run ./internal/demodata/cmd/gen")
	}
}

func TestBundleShape(t *testing.T) {
	files := tree(t, "../../testdata/demo")
	total := 0
	for _, content := range files {
		total += len(content)
	}
	if total > 3<<20 {
		t.Errorf("bundle is %d bytes, want at most 3 MiB", total)
	}

	m, err := demodata.ReadManifest("../../testdata/demo")
	if err != nil {
		t.Fatal(err)
	}
	if m.Snapshots != demodata.Minutes+1 {
		t.Errorf("snapshots = %d, want %d", m.Snapshots, demodata.Minutes+1)
	}
	snaps, err := os.ReadDir("../../testdata/demo/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != m.Snapshots {
		t.Errorf("cgroup dir has %d snapshots, manifest says %d", len(snaps), m.Snapshots)
	}

	// The attacked container logs far more during the incident than the
	// others do in any minute.
	sshd := m.Containers[demodata.IncidentContainer]
	web := m.Containers["web"]
	if sshd.LogRecords < web.LogRecords+1200 {
		t.Errorf("sshd has %d log records, web %d: expected about 1500 more from the incident", sshd.LogRecords, web.LogRecords)
	}

	var long, partialCRI int
	for name, content := range files {
		if strings.HasSuffix(name, "-json.log") {
			for _, line := range strings.Split(content, "\n") {
				if strings.HasPrefix(line, `{"log":"`) && !strings.Contains(line, `\n","stream"`) {
					long++
				}
			}
		}
		if strings.HasSuffix(name, "0.log") {
			partialCRI += bytes.Count([]byte(content), []byte(" P "))
		}
	}
	if long == 0 {
		t.Error("no json-file line is split into partial lines")
	}
	if partialCRI == 0 {
		t.Error("no CRI line is tagged P")
	}
}
