package inspect

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestPostureFormatPrintsFacts(t *testing.T) {
	var out, errOut bytes.Buffer
	in := New(FormatPosture, &out, &errOut)
	if err := in.Path("../posture/testdata/weak"); err != nil {
		t.Fatal(err)
	}
	if errOut.Len() > 0 {
		t.Errorf("rejections: %s", errOut.String())
	}
	if n := in.Stats().Rows[TablePostureFacts]; n == 0 {
		t.Fatalf("no %s rows", TablePostureFacts)
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var row struct {
			Table      string   `json:"table"`
			EntityName string   `json:"entity_name"`
			Fact       string   `json:"fact"`
			Values     []string `json:"fact_values"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("invalid line %q: %v", line, err)
		}
		if row.EntityName == "legacy" && row.Fact == "container.privileged" {
			found = len(row.Values) == 1 && row.Values[0] == "true"
		}
	}
	if !found {
		t.Errorf("no container.privileged = true row of legacy:\n%s", out.String())
	}
	if _, err := ParseFormat("posture"); err != nil {
		t.Errorf("ParseFormat(posture): %v", err)
	}
}
