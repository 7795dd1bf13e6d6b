package posture

import (
	"sort"

	"github.com/harrierhq/harrier/internal/record"
)

// SourceDefault is the source of a fact whose file leaves the setting out,
// so that the reader stored the default of the software that reads it.
const SourceDefault = "default"

// facts collects the facts of one entity. A later value of a key replaces
// an earlier one.
type facts map[string]record.PostureFact

func (f facts) set(key, source string, values ...string) {
	if values == nil {
		values = []string{}
	}
	f[key] = record.PostureFact{Key: key, Values: values, Source: source}
}

func (f facts) setBool(key, source string, v bool) {
	f.set(key, source, boolText(v))
}

// sorted returns the facts sorted by key.
func (f facts) sorted() []record.PostureFact {
	out := make([]record.PostureFact, 0, len(f))
	for _, fact := range f {
		out = append(out, fact)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func boolText(v bool) string {
	if v {
		return "true"
	}
	return "false"
}
