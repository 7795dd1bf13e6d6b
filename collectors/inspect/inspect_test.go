package inspect_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/harrierhq/harrier/collectors/inspect"
)

func TestParseTrivyFindingsRows(t *testing.T) {
	var out, errOut bytes.Buffer
	in := inspect.New(inspect.FormatAuto, &out, &errOut)
	if err := in.Path("../scan/testdata/trivy-secrets-misconfig.json"); err != nil {
		t.Fatal(err)
	}
	if errOut.Len() != 0 {
		t.Errorf("rejections: %s", errOut.String())
	}

	stats := in.Stats()
	if stats.Rows[inspect.TableFindings] != 7 {
		t.Errorf("findings rows = %d, want 7", stats.Rows[inspect.TableFindings])
	}
	if stats.Rows[inspect.TableVulnerabilities] != 1 {
		t.Errorf("vulnerabilities rows = %d, want 1", stats.Rows[inspect.TableVulnerabilities])
	}

	kinds := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var row map[string]any
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("invalid JSON line %q: %v", line, err)
		}
		if row["table"] != inspect.TableFindings {
			continue
		}
		kinds[row["kind"].(string)]++
		if row["finding_id"] == "" || row["severity"] == "" || row["target"] == "" {
			t.Errorf("incomplete findings row %s", line)
		}
	}
	if kinds["secret"] != 3 || kinds["misconfiguration"] != 4 {
		t.Errorf("findings by kind = %v, want 3 secrets and 4 misconfigurations", kinds)
	}
	if strings.Contains(out.String(), "****") || strings.Contains(out.String(), "AWS_ACCESS_KEY_ID=") {
		t.Error("output contains the secret's matched text")
	}
}
