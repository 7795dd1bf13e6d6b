package features

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/harrierhq/harrier/storage"
)

// Entities that Rollup groups stored windows by.
const (
	ByContainer = "container"
	ByImage     = "image"
	ByHost      = "host"
)

// RollupSpec selects the windows that RollupQuery computes from the stored
// container windows.
type RollupSpec struct {
	// By is ByContainer, ByImage or ByHost.
	By string
	// Length is the length of a window. It is a multiple of Hop.
	Length time.Duration
	// Hop is the distance between the starts of consecutive windows and
	// the length of the stored windows they are made of (the scorer's
	// features.window). Length equal to Hop gives tumbling windows, a
	// longer Length hopping windows that overlap.
	Hop time.Duration
	// From and To bound the window starts, [From, To).
	From, To time.Time
}

// Validate checks the spec and names the invalid field and value.
func (s RollupSpec) Validate() error {
	switch s.By {
	case ByContainer, ByImage, ByHost:
	default:
		return fmt.Errorf("invalid rollup entity %q: use %s, %s or %s", s.By, ByContainer, ByImage, ByHost)
	}
	if s.Hop < time.Second || s.Hop%time.Second != 0 {
		return fmt.Errorf("invalid hop %s: use whole seconds, the stored window length", s.Hop)
	}
	if s.Length < s.Hop || s.Length%s.Hop != 0 {
		return fmt.Errorf("invalid window length %s: use a multiple of the hop %s", s.Length, s.Hop)
	}
	if !s.From.Before(s.To) {
		return fmt.Errorf("invalid time range [%s, %s): the start must be before the end", s.From.Format(time.RFC3339), s.To.Format(time.RFC3339))
	}
	return nil
}

// rollupAggregates gives, per feature, how the rows of the stored container
// windows inside a rolled-up window combine. n is the number of stored
// windows per container in it, so sum(x) / n is the mean of x over the
// window's length, summed over its containers. A container without a
// stored window for part of the length counts 0 there. length_s is the
// window's length in seconds.
var rollupAggregates = map[string]string{
	FeatureCPUCores:              "sum(cpu_cores) / n",
	FeatureCPUThrottledRatio:     "if(sum(cpu_cores) > 0, sum(cpu_throttled_ratio * cpu_cores) / sum(cpu_cores), 0)",
	FeatureMemoryWorkingSetBytes: "sum(memory_working_set_bytes) / n",
	FeatureLogLines:              "sum(log_lines)",
	FeatureErrorLines:            "sum(error_lines)",
	FeatureNewShapes:             "sum(new_shapes)",
	FeatureMemorySlope:           "sum(memory_slope_bytes_per_s) / n",
	FeatureOOMKills:              "sum(oom_kills)",
	FeaturePidsCurrent:           "sum(pids_current) / n",
	FeaturePidsGrowth:            "sum(pids_growth)",
	FeatureIOReadRate:            "sum(io_read_bytes_per_s) / n",
	FeatureIOWriteRate:           "sum(io_write_bytes_per_s) / n",
	FeatureAuthFailures:          "sum(auth_failure_lines)",
	// Distinct addresses of different windows cannot be merged from
	// counts, so this is the largest count of one container window: a
	// lower bound.
	FeatureSourceAddresses: "max(source_addresses)",
	// The mean entropy weighted by lines, an estimate: the entropy of the
	// merged template counts is not stored.
	FeatureTemplateEntropy: "if(sum(log_lines) > 0, sum(template_entropy_bits * log_lines) / sum(log_lines), 0)",
	FeatureLogLinesPerSec:  "sum(log_lines) / length_s",
	FeatureErrorRatio:      "if(sum(log_lines) > 0, sum(error_lines) / sum(log_lines), 0)",
	FeatureWarningRatio:    "if(sum(log_lines) > 0, sum(warning_ratio * log_lines) / sum(log_lines), 0)",
	FeatureNetRxRate:       "sum(net_rx_bytes_per_s) / n",
	FeatureNetTxRate:       "sum(net_tx_bytes_per_s) / n",
	FeatureHostOSEndOfLife: "max(host_os_end_of_life)",
}

// rollupAggregate returns the aggregate of a feature. The vulnerability
// counts take the largest count: the image's own per image, and the worst
// image's per host.
func rollupAggregate(name string) string {
	if agg, ok := rollupAggregates[name]; ok {
		return agg
	}
	return "max(" + name + ")"
}

// RollupQuery returns the statement that computes the windows of spec from
// the stored container windows, one row per entity and window start,
// ordered by start and entity. Its columns are the entity id, start_ns,
// length_s, and the number of containers and of stored windows in the
// window. Then follows one column per feature of FeatureNames and
// ExtraFeatureNames, named with the prefix "rolled_". Each stored window counts in every rolled-up window that
// covers it, so the windows inherit the watermark and allowed lateness of
// the stored ones.
func RollupQuery(spec RollupSpec) (string, error) {
	if err := spec.Validate(); err != nil {
		return "", err
	}
	key := map[string]string{ByContainer: "container_id", ByImage: "image_id", ByHost: "host_id"}[spec.By]
	hopNs := int64(spec.Hop)
	n := int64(spec.Length / spec.Hop)

	lengthS := int64(spec.Length / time.Second)
	constants := strings.NewReplacer("/ n", fmt.Sprintf("/ %d", n), "/ length_s", fmt.Sprintf("/ %d", lengthS))
	var columns []string
	for _, name := range append(append([]string{}, FeatureNames...), ExtraFeatureNames...) {
		// An alias equal to a column name would replace that column in
		// the other aggregates.
		columns = append(columns, constants.Replace(rollupAggregate(name))+" AS rolled_"+name)
	}
	// Each stored window is copied, by arrayJoin, into the n windows that
	// start at its own start and at the n-1 hops before it. The scan reads
	// the stored windows from one length before From.
	scanFrom := spec.From.Add(-spec.Length)
	return fmt.Sprintf(`SELECT entity, start_ns, toUInt32(%[1]d) AS length_s,
    uniqExact(container_id) AS containers, count() AS windows,
    %[2]s
FROM (
    SELECT *, %[3]s AS entity, window_ns - toInt64(arrayJoin(range(%[4]d))) * %[5]d AS start_ns
    FROM features FINAL
    WHERE window_start >= toDateTime(%[6]d) AND window_start <= toDateTime(%[7]d)
        AND window_s = %[8]d
)
WHERE start_ns >= %[9]d AND start_ns < %[10]d
GROUP BY entity, start_ns
ORDER BY start_ns, entity`,
		lengthS, strings.Join(columns, ",\n    "), key, n, hopNs,
		scanFrom.Unix(), spec.To.Unix(), int64(spec.Hop/time.Second), spec.From.UnixNano(), spec.To.UnixNano()), nil
}

// RolledWindow is one window of RollupQuery.
type RolledWindow struct {
	// Entity is the container, image or host id.
	Entity string
	Start  time.Time
	Length time.Duration
	// Containers is the number of containers with a stored window inside,
	// and Windows the number of those stored windows.
	Containers int
	Windows    int
	// Values and Extra are in the order of FeatureNames and
	// ExtraFeatureNames.
	Values []float64
	Extra  []float64
}

// ReadRollup runs RollupQuery on store.
func ReadRollup(ctx context.Context, store *storage.Store, spec RollupSpec) ([]RolledWindow, error) {
	query, err := RollupQuery(spec)
	if err != nil {
		return nil, err
	}
	rows, err := store.Conn().Query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("roll up features per %s: %w", spec.By, err)
	}
	defer rows.Close()

	var out []RolledWindow
	for rows.Next() {
		var w RolledWindow
		var startNs int64
		var lengthS uint32
		var containers, windows uint64
		w.Values = make([]float64, len(FeatureNames))
		w.Extra = make([]float64, len(ExtraFeatureNames))
		dest := []any{&w.Entity, &startNs, &lengthS, &containers, &windows}
		for i := range w.Values {
			dest = append(dest, &w.Values[i])
		}
		for i := range w.Extra {
			dest = append(dest, &w.Extra[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("roll up features per %s: %w", spec.By, err)
		}
		w.Start = time.Unix(0, startNs).UTC()
		w.Length = time.Duration(lengthS) * time.Second
		w.Containers, w.Windows = int(containers), int(windows)
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("roll up features per %s: %w", spec.By, err)
	}
	return out, nil
}

// Feature returns the value of the named feature, or 0 for an unknown name.
func (w RolledWindow) Feature(name string) float64 {
	return Window{Values: w.Values, Extra: w.Extra}.Feature(name)
}

// RollupSchema returns the Arrow schema of exported rolled-up windows: the
// entity id, the window's start and length, the number of containers and
// of stored windows in it, then one float64 column per feature of
// FeatureNames and ExtraFeatureNames.
func RollupSchema() *arrow.Schema {
	fields := []arrow.Field{
		{Name: "entity", Type: arrow.BinaryTypes.String},
		{Name: "window_start", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}},
		{Name: "window_s", Type: arrow.PrimitiveTypes.Uint32},
		{Name: "containers", Type: arrow.PrimitiveTypes.Uint32},
		{Name: "windows", Type: arrow.PrimitiveTypes.Uint32},
	}
	for _, name := range append(append([]string{}, FeatureNames...), ExtraFeatureNames...) {
		fields = append(fields, arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Float64})
	}
	return arrow.NewSchema(fields, nil)
}

// NewRollupBatch returns windows as a record batch of RollupSchema,
// allocated from mem (nil for the Go allocator). The caller releases it.
func NewRollupBatch(windows []RolledWindow, mem memory.Allocator) arrow.RecordBatch {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	b := array.NewRecordBuilder(mem, RollupSchema())
	defer b.Release()

	for _, w := range windows {
		b.Field(0).(*array.StringBuilder).Append(w.Entity)
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(w.Start.UnixNano()))
		b.Field(2).(*array.Uint32Builder).Append(uint32(w.Length / time.Second))
		b.Field(3).(*array.Uint32Builder).Append(uint32(w.Containers))
		b.Field(4).(*array.Uint32Builder).Append(uint32(w.Windows))
		for i := range FeatureNames {
			b.Field(5 + i).(*array.Float64Builder).Append(valueAt(w.Values, i))
		}
		for i := range ExtraFeatureNames {
			b.Field(5 + len(FeatureNames) + i).(*array.Float64Builder).Append(valueAt(w.Extra, i))
		}
	}
	return b.NewRecordBatch()
}
