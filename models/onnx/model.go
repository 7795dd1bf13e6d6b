// Package onnx loads user ONNX models that score feature vectors, checks
// them against what the runtime supports, and runs them from many
// goroutines. It also trains and exports Harrier's own autoencoder.
//
// The runtime is github.com/advancedclimatesystems/gonnx v1.1.0, which
// implements opset 13 in pure Go. github.com/owulveryck/onnx-go v0.5.0 is
// not used, for three reasons. It returns wrong results from the second
// run of a graph, because its Gemm writes into the bias tensor. It is
// silently wrong when a graph output also feeds another node. It crashes
// when one model is shared across goroutines.
package onnx

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/advancedclimatesystems/gonnx"
	onnxpb "github.com/advancedclimatesystems/gonnx/onnx"
	"github.com/advancedclimatesystems/gonnx/ops/opset13"
	"gorgonia.org/tensor"
)

// SupportedOpset is the only ONNX opset version the runtime implements.
const SupportedOpset = 13

// Mapping declares how feature vectors feed a model's input.
type Mapping struct {
	// Features names the feature of each input column, in column order.
	// Every name must be one of the known features given to Load.
	Features []string
	// Log1p feeds log(1 + max(v, 0)) instead of each value v, the scaling
	// the isolation forest uses, because gonnx v1.1.0 has no Log operator
	// for the graph to do it itself.
	Log1p bool
	// Output is the graph output that holds one score per row, with shape
	// [N] or [N, 1]. Default: the first graph output.
	Output string
}

// Model is a loaded and checked ONNX model. It is safe for concurrent use.
type Model struct {
	mapping Mapping
	input   string
	// columns maps input column i to an index of the feature vector.
	columns []int
	// pool holds one gonnx model per concurrent caller, because gonnx does
	// not document Run as safe for concurrent use.
	pool sync.Pool
}

// LoadFile reads an .onnx file and calls Load.
func LoadFile(path string, known []string, mapping Mapping) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read ONNX model: %w", err)
	}
	m, err := Load(data, known, mapping)
	if err != nil {
		return nil, fmt.Errorf("load ONNX model %s: %w", path, err)
	}
	return m, nil
}

// Load parses an ONNX model and checks it before any use. The opset must
// be 13 and the runtime must implement every operator. The graph must
// have one float input of shape [N, len(mapping.Features)], and a trial
// batch of zeros must yield one score per row. known lists the feature
// names of the vectors that Score receives, in order.
func Load(data []byte, known []string, mapping Mapping) (*Model, error) {
	mp, err := gonnx.ModelProtoFromBytes(data)
	if err != nil {
		return nil, fmt.Errorf("invalid ONNX protobuf: %w", err)
	}
	if mp.GetGraph() == nil {
		return nil, fmt.Errorf("invalid ONNX model: no graph")
	}
	if err := checkOpset(mp); err != nil {
		return nil, err
	}
	if err := checkOperators(mp.GetGraph()); err != nil {
		return nil, err
	}
	columns, err := mapColumns(known, mapping.Features)
	if err != nil {
		return nil, err
	}

	m := &Model{mapping: mapping, columns: columns}
	first, err := gonnx.NewModel(mp)
	if err != nil {
		return nil, fmt.Errorf("build ONNX graph: %w", err)
	}
	if m.input, err = checkInput(first, len(columns)); err != nil {
		return nil, err
	}
	if m.mapping.Output == "" {
		m.mapping.Output = first.OutputNames()[0]
	}
	if !slices.Contains(first.OutputNames(), m.mapping.Output) {
		return nil, fmt.Errorf("invalid mapping output %q: the graph outputs are %q", m.mapping.Output, first.OutputNames())
	}
	m.pool.New = func() any {
		// The same bytes were parsed and built above, so an error here
		// is a bug in the runtime.
		other, err := gonnx.NewModelFromBytes(data)
		if err != nil {
			panic(fmt.Sprintf("onnx: reparse of a checked model failed: %v", err))
		}
		return other
	}
	m.pool.Put(first)

	trial := make([][]float64, 2)
	for i := range trial {
		trial[i] = make([]float64, len(known))
	}
	if _, err := m.Score(trial); err != nil {
		return nil, fmt.Errorf("trial run on a batch of zeros failed: %w", err)
	}
	return m, nil
}

func checkOpset(mp *onnxpb.ModelProto) error {
	var opset int64
	for _, imp := range mp.GetOpsetImport() {
		if d := imp.GetDomain(); d != "" && d != "ai.onnx" {
			return fmt.Errorf("unsupported opset domain %q: the runtime implements only the default ONNX domain", d)
		}
		opset = max(opset, imp.GetVersion())
	}
	if opset != SupportedOpset {
		return fmt.Errorf("unsupported opset version %d: the runtime (gonnx v1.1.0) implements only opset %d; convert the model, for example with onnx.version_converter", opset, SupportedOpset)
	}
	return nil
}

func checkOperators(g *onnxpb.GraphProto) error {
	var unsupported []string
	for _, n := range g.GetNode() {
		if _, err := opset13.GetOperator(n.GetOpType()); err != nil {
			unsupported = append(unsupported, fmt.Sprintf("%s (node %q)", n.GetOpType(), n.GetName()))
		}
	}
	if len(unsupported) > 0 {
		supported := opset13.GetOpNames()
		slices.Sort(supported)
		return fmt.Errorf("unsupported operator %s: the runtime (gonnx v1.1.0, opset 13) implements %s",
			strings.Join(unsupported, ", "), strings.Join(supported, ", "))
	}
	return nil
}

func mapColumns(known, features []string) ([]int, error) {
	if len(features) == 0 {
		return nil, fmt.Errorf("invalid mapping: no features")
	}
	columns := make([]int, len(features))
	for i, name := range features {
		j := slices.Index(known, name)
		if j < 0 {
			return nil, fmt.Errorf("invalid mapping feature %q for input column %d: want one of %q", name, i, known)
		}
		columns[i] = j
	}
	return columns, nil
}

// checkInput returns the name of the only graph input that is not an
// initializer, after checking that it is [N, width] float.
func checkInput(g *gonnx.Model, width int) (string, error) {
	params := g.ParamNames()
	var inputs []string
	for _, name := range g.InputNames() {
		if !slices.Contains(params, name) {
			inputs = append(inputs, name)
		}
	}
	if len(inputs) != 1 {
		return "", fmt.Errorf("unsupported graph inputs %q: want exactly one feature input", inputs)
	}
	shape := g.InputShapes()[inputs[0]]
	if len(shape) != 2 {
		return "", fmt.Errorf("unsupported shape %v of input %q: want [N, %d]", shape, inputs[0], width)
	}
	if cols := shape[1]; cols.IsDynamic || cols.Size != int64(width) {
		return "", fmt.Errorf("unsupported shape %v of input %q: the mapping declares %d features, want [N, %d]", shape, inputs[0], width, width)
	}
	return inputs[0], nil
}

// Score runs the model on a batch of feature vectors, each ordered as the
// known features given to Load, and returns one score per row.
func (m *Model) Score(rows [][]float64) ([]float64, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	out, err := m.run(rows)
	if err != nil {
		return nil, err
	}
	return scoresOf(out[m.mapping.Output], m.mapping.Output, len(rows))
}

// run feeds rows to the graph and returns every graph output.
func (m *Model) run(rows [][]float64) (gonnx.Tensors, error) {
	data := make([]float32, 0, len(rows)*len(m.columns))
	for i, row := range rows {
		for _, j := range m.columns {
			if j >= len(row) {
				return nil, fmt.Errorf("invalid row %d: %d features, the mapping reads feature %d", i, len(row), j)
			}
			v := row[j]
			if m.mapping.Log1p {
				v = math.Log1p(math.Max(v, 0))
			}
			data = append(data, float32(v))
		}
	}
	in := tensor.New(tensor.WithShape(len(rows), len(m.columns)), tensor.WithBacking(data))

	g := m.pool.Get().(*gonnx.Model)
	out, err := g.Run(gonnx.Tensors{m.input: in})
	m.pool.Put(g)
	if err != nil {
		return nil, fmt.Errorf("run ONNX model: %w", err)
	}
	return out, nil
}

func scoresOf(t tensor.Tensor, name string, rows int) ([]float64, error) {
	if t == nil {
		return nil, fmt.Errorf("output %q missing from the run", name)
	}
	shape := t.Shape()
	if t.Size() != rows || (len(shape) == 2 && shape[1] != 1) || len(shape) > 2 {
		return nil, fmt.Errorf("unsupported shape %v of output %q: want [%d] or [%d, 1]", shape, name, rows, rows)
	}
	scores := make([]float64, rows)
	switch data := t.Data().(type) {
	case []float32:
		for i, v := range data {
			scores[i] = float64(v)
		}
	case []float64:
		copy(scores, data)
	default:
		return nil, fmt.Errorf("unsupported type %T of output %q: want float32 or float64", data, name)
	}
	return scores, nil
}
