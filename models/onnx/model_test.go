package onnx

import (
	"math"
	"strings"
	"testing"

	onnxpb "github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/proto"
)

var testFeatures = []string{"a", "b", "c"}

// graphModel returns a model that runs nodes on input "x" of shape
// [N, width] and returns output "y" of shape [N, 1].
func graphModel(t *testing.T, opset int64, width int64, nodes ...*onnxpb.NodeProto) []byte {
	t.Helper()
	ones := make([]float64, width)
	for i := range ones {
		ones[i] = 1
	}
	mp := &onnxpb.ModelProto{
		IrVersion:   7,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: opset}},
		Graph: &onnxpb.GraphProto{
			Name:        "test",
			Node:        nodes,
			Initializer: []*onnxpb.TensorProto{floatTensor("ones", ones, width, 1)},
			Input:       []*onnxpb.ValueInfoProto{valueInfo("x", width)},
			Output:      []*onnxpb.ValueInfoProto{valueInfo("y", 1)},
		},
	}
	data, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

var sumNode = &onnxpb.NodeProto{OpType: "MatMul", Name: "sum", Input: []string{"x", "ones"}, Output: []string{"y"}}

func TestLoadAndScoreRowSums(t *testing.T) {
	m, err := Load(graphModel(t, 13, 2, sumNode), testFeatures, Mapping{Features: []string{"c", "a"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Score([][]float64{{1, 100, 10}, {2, 0, 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != 11 || got[1] != 2.5 {
		t.Errorf("Score = %v, want [11 2.5] (c + a of each row)", got)
	}
}

func TestLoadRejectsUnsupportedModels(t *testing.T) {
	reduce := &onnxpb.NodeProto{OpType: "ReduceMean", Name: "mean", Input: []string{"x"}, Output: []string{"y"}}
	tests := []struct {
		name    string
		data    []byte
		mapping Mapping
		wantErr string
	}{
		{"unsupported operator", graphModel(t, 13, 2, reduce), Mapping{Features: []string{"a", "b"}}, `unsupported operator ReduceMean (node "mean")`},
		{"opset 17", graphModel(t, 17, 2, sumNode), Mapping{Features: []string{"a", "b"}}, "unsupported opset version 17"},
		{"input width", graphModel(t, 13, 3, sumNode), Mapping{Features: []string{"a", "b"}}, "declares 2 features, want [N, 2]"},
		{"unknown feature", graphModel(t, 13, 2, sumNode), Mapping{Features: []string{"a", "z"}}, `invalid mapping feature "z"`},
		{"no features", graphModel(t, 13, 2, sumNode), Mapping{}, "invalid mapping: no features"},
		{"unknown output", graphModel(t, 13, 2, sumNode), Mapping{Features: []string{"a", "b"}, Output: "score"}, `invalid mapping output "score"`},
		{"not protobuf", []byte("not a model"), Mapping{Features: []string{"a"}}, "invalid ONNX"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.data, testFeatures, tt.mapping)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestScoreRejectsShortRow(t *testing.T) {
	m, err := Load(graphModel(t, 13, 2, sumNode), testFeatures, Mapping{Features: []string{"c", "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Score([][]float64{{1}}); err == nil {
		t.Error("no error for a row with 1 of 3 features")
	}
}

func TestTrainAutoencoderRejectsBadInput(t *testing.T) {
	tests := []struct {
		name string
		X    [][]float64
		cfg  AutoencoderConfig
	}{
		{"one row", [][]float64{{1}}, AutoencoderConfig{}},
		{"ragged", [][]float64{{1, 2}, {1}}, AutoencoderConfig{}},
		{"infinite", [][]float64{{1}, {math.Inf(1)}}, AutoencoderConfig{}},
		{"negative epochs", [][]float64{{1}, {2}}, AutoencoderConfig{Epochs: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := TrainAutoencoder(tt.X, tt.cfg); err == nil {
				t.Error("no error")
			}
		})
	}
}
