package onnx

import (
	"fmt"
	"math"
	"math/rand/v2"

	onnxpb "github.com/advancedclimatesystems/gonnx/onnx"
	"gonum.org/v1/gonum/mathext/prng"
	"google.golang.org/protobuf/proto"
)

// Defaults of AutoencoderConfig.
const (
	DefaultHidden       = 3
	DefaultEpochs       = 2000
	DefaultLearningRate = 0.01
)

// AutoencoderConfig configures TrainAutoencoder.
type AutoencoderConfig struct {
	// Hidden is the width of the bottleneck layer. Default 3.
	Hidden int
	// Epochs is the number of full-batch Adam steps. Default 2000.
	Epochs int
	// LearningRate is the Adam step size. Default 0.01.
	LearningRate float64
	// Seed makes the initial weights, and so the model, reproducible.
	Seed uint64
}

// Autoencoder is a one-hidden-layer autoencoder over standardized feature
// vectors: z = (x − mean)/std, h = tanh(z·W1 + b1), r = h·W2 + b2. Its
// score is the mean squared reconstruction error mean((r − z)²), so a row
// unlike the training rows scores high.
type Autoencoder struct {
	Mean, Std []float64
	// W1 is dims×hidden and W2 is hidden×dims, row-major.
	W1, B1, W2, B2 []float64
	Dims, Hidden   int
}

// TrainAutoencoder fits an autoencoder to the rows of X by full-batch Adam
// on the mean squared reconstruction error.
func TrainAutoencoder(X [][]float64, cfg AutoencoderConfig) (*Autoencoder, error) {
	if len(X) < 2 {
		return nil, fmt.Errorf("invalid training set: %d rows, need at least 2", len(X))
	}
	dims := len(X[0])
	for i, row := range X {
		if len(row) != dims || dims == 0 {
			return nil, fmt.Errorf("invalid training set: row %d has %d features, row 0 has %d", i, len(row), dims)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("invalid training set: row %d feature %d is %v", i, j, v)
			}
		}
	}
	if cfg.Hidden < 0 || cfg.Epochs < 0 || cfg.LearningRate < 0 {
		return nil, fmt.Errorf("invalid autoencoder config %+v: values must not be negative", cfg)
	}
	if cfg.Hidden == 0 {
		cfg.Hidden = DefaultHidden
	}
	if cfg.Epochs == 0 {
		cfg.Epochs = DefaultEpochs
	}
	if cfg.LearningRate == 0 {
		cfg.LearningRate = DefaultLearningRate
	}

	a := &Autoencoder{Dims: dims, Hidden: cfg.Hidden}
	a.Mean, a.Std = standardization(X)
	Z := make([][]float64, len(X))
	for i, row := range X {
		Z[i] = a.standardize(row)
	}

	rng := rand.New(prng.NewXoshiro256plusplus(cfg.Seed))
	scale := 1 / math.Sqrt(float64(dims))
	a.W1 = randomMatrix(rng, dims*cfg.Hidden, scale)
	a.B1 = make([]float64, cfg.Hidden)
	a.W2 = randomMatrix(rng, cfg.Hidden*dims, 1/math.Sqrt(float64(cfg.Hidden)))
	a.B2 = make([]float64, dims)

	params := [][]float64{a.W1, a.B1, a.W2, a.B2}
	opt := newAdam(params, cfg.LearningRate)
	grads := make([][]float64, len(params))
	for i, p := range params {
		grads[i] = make([]float64, len(p))
	}
	for range cfg.Epochs {
		for _, g := range grads {
			clear(g)
		}
		for _, z := range Z {
			a.accumulateGradient(z, grads, 1/float64(len(Z)))
		}
		opt.step(params, grads)
	}
	return a, nil
}

func standardization(X [][]float64) (mean, std []float64) {
	dims := len(X[0])
	mean = make([]float64, dims)
	std = make([]float64, dims)
	for _, row := range X {
		for j, v := range row {
			mean[j] += v / float64(len(X))
		}
	}
	for _, row := range X {
		for j, v := range row {
			std[j] += (v - mean[j]) * (v - mean[j]) / float64(len(X))
		}
	}
	for j := range std {
		std[j] = math.Sqrt(std[j])
		if std[j] < 1e-9 {
			// A constant feature would divide by zero; any deviation from
			// it then counts in its own units.
			std[j] = 1
		}
	}
	return mean, std
}

func randomMatrix(rng *rand.Rand, n int, scale float64) []float64 {
	m := make([]float64, n)
	for i := range m {
		m[i] = rng.NormFloat64() * scale
	}
	return m
}

func (a *Autoencoder) standardize(x []float64) []float64 {
	z := make([]float64, a.Dims)
	for j := range z {
		z[j] = (x[j] - a.Mean[j]) / a.Std[j]
	}
	return z
}

// forward returns the hidden activations and the reconstruction of z.
func (a *Autoencoder) forward(z []float64) (h, r []float64) {
	h = make([]float64, a.Hidden)
	for k := range h {
		s := a.B1[k]
		for j, v := range z {
			s += v * a.W1[j*a.Hidden+k]
		}
		h[k] = math.Tanh(s)
	}
	r = make([]float64, a.Dims)
	for j := range r {
		s := a.B2[j]
		for k, v := range h {
			s += v * a.W2[k*a.Dims+j]
		}
		r[j] = s
	}
	return h, r
}

// accumulateGradient adds weight times the gradient of the loss of z to
// grads, ordered as W1, B1, W2, B2.
func (a *Autoencoder) accumulateGradient(z []float64, grads [][]float64, weight float64) {
	h, r := a.forward(z)
	gW1, gB1, gW2, gB2 := grads[0], grads[1], grads[2], grads[3]
	dr := make([]float64, a.Dims)
	for j := range dr {
		dr[j] = weight * 2 * (r[j] - z[j]) / float64(a.Dims)
		gB2[j] += dr[j]
	}
	for k := range h {
		var dh float64
		for j := range dr {
			gW2[k*a.Dims+j] += h[k] * dr[j]
			dh += a.W2[k*a.Dims+j] * dr[j]
		}
		da := dh * (1 - h[k]*h[k])
		gB1[k] += da
		for j, v := range z {
			gW1[j*a.Hidden+k] += v * da
		}
	}
}

// Reconstruct returns the standardized input and its reconstruction.
func (a *Autoencoder) Reconstruct(x []float64) (z, r []float64) {
	z = a.standardize(x)
	_, r = a.forward(z)
	return z, r
}

// Score returns the mean squared reconstruction error of x.
func (a *Autoencoder) Score(x []float64) float64 {
	z, r := a.Reconstruct(x)
	var s float64
	for j := range z {
		s += (r[j] - z[j]) * (r[j] - z[j])
	}
	return s / float64(a.Dims)
}

// adam is the optimizer of Kingma and Ba (2015) with β1 = 0.9, β2 = 0.999.
type adam struct {
	rate float64
	t    int
	m, v [][]float64
}

func newAdam(params [][]float64, rate float64) *adam {
	o := &adam{rate: rate}
	for _, p := range params {
		o.m = append(o.m, make([]float64, len(p)))
		o.v = append(o.v, make([]float64, len(p)))
	}
	return o
}

func (o *adam) step(params, grads [][]float64) {
	const beta1, beta2, eps = 0.9, 0.999, 1e-8
	o.t++
	c1 := 1 - math.Pow(beta1, float64(o.t))
	c2 := 1 - math.Pow(beta2, float64(o.t))
	for i, p := range params {
		for j, g := range grads[i] {
			o.m[i][j] = beta1*o.m[i][j] + (1-beta1)*g
			o.v[i][j] = beta2*o.v[i][j] + (1-beta2)*g*g
			p[j] -= o.rate * (o.m[i][j] / c1) / (math.Sqrt(o.v[i][j]/c2) + eps)
		}
	}
}

// Output names of the exported graph.
const (
	OutputScore          = "score"
	OutputReconstruction = "reconstruction"
	inputFeatures        = "features"
)

// ExportONNX returns the autoencoder as an ONNX model (IR version 7, opset
// 13) with one input "features" of shape [N, dims] and two outputs:
// "score" [N, 1], the mean squared reconstruction error, and
// "reconstruction" [N, dims], which also feeds the error. The graph uses
// only Sub, Div, Gemm, Tanh, Mul and MatMul, because gonnx v1.1.0 has no
// ReduceMean or Pow: the mean over features is a MatMul with a column of
// 1/dims.
func (a *Autoencoder) ExportONNX() ([]byte, error) {
	avg := make([]float64, a.Dims)
	for i := range avg {
		avg[i] = 1 / float64(a.Dims)
	}
	node := func(op, name string, inputs []string, output string) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{OpType: op, Name: name, Input: inputs, Output: []string{output}}
	}
	graph := &onnxpb.GraphProto{
		Name: "harrier_autoencoder",
		Node: []*onnxpb.NodeProto{
			node("Sub", "center", []string{inputFeatures, "mean"}, "centered"),
			node("Div", "scale", []string{"centered", "std"}, "z"),
			node("Gemm", "encode", []string{"z", "w1", "b1"}, "encoded"),
			node("Tanh", "activate", []string{"encoded"}, "hidden"),
			node("Gemm", "decode", []string{"hidden", "w2", "b2"}, OutputReconstruction),
			node("Sub", "error", []string{OutputReconstruction, "z"}, "error"),
			node("Mul", "square", []string{"error", "error"}, "squared"),
			node("MatMul", "average", []string{"squared", "average_weights"}, OutputScore),
		},
		Initializer: []*onnxpb.TensorProto{
			floatTensor("mean", a.Mean, int64(a.Dims)),
			floatTensor("std", a.Std, int64(a.Dims)),
			floatTensor("w1", a.W1, int64(a.Dims), int64(a.Hidden)),
			floatTensor("b1", a.B1, int64(a.Hidden)),
			floatTensor("w2", a.W2, int64(a.Hidden), int64(a.Dims)),
			floatTensor("b2", a.B2, int64(a.Dims)),
			floatTensor("average_weights", avg, int64(a.Dims), 1),
		},
		Input: []*onnxpb.ValueInfoProto{valueInfo(inputFeatures, int64(a.Dims))},
		Output: []*onnxpb.ValueInfoProto{
			valueInfo(OutputScore, 1),
			valueInfo(OutputReconstruction, int64(a.Dims)),
		},
	}
	model := &onnxpb.ModelProto{
		IrVersion:    7,
		ProducerName: "harrier",
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Domain: "", Version: SupportedOpset}},
		Graph:        graph,
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(model)
}

func floatTensor(name string, values []float64, dims ...int64) *onnxpb.TensorProto {
	data := make([]float32, len(values))
	for i, v := range values {
		data[i] = float32(v)
	}
	return &onnxpb.TensorProto{Name: name, Dims: dims, DataType: int32(onnxpb.TensorProto_FLOAT), FloatData: data}
}

// valueInfo describes a float tensor of shape [N, cols] with N dynamic.
func valueInfo(name string, cols int64) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{
		{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}},
		{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: cols}},
	}}
	return &onnxpb.ValueInfoProto{
		Name: name,
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: int32(onnxpb.TensorProto_FLOAT),
			Shape:    shape,
		}}},
	}
}
