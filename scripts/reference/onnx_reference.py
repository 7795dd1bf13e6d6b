#!/usr/bin/env python3
"""Check an ONNX model with the onnx checker and run it in onnxruntime.

Usage: onnx_reference.py MODEL.onnx INPUTS.csv > reference.json

INPUTS.csv has a header of feature names and one row of raw feature values
per line. Each value v is fed as log(1 + max(v, 0)) in float32, the scaling
Harrier's ONNX mapping applies with Log1p. The script prints one JSON
object: the checker verdict ("ok" or the error), the onnx and onnxruntime
versions, and every graph output as a list of rows. The tests of
models/onnx compare gonnx against this output.
"""

import json
import sys

import numpy as np
import onnx
import onnxruntime


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    model_path, inputs_path = sys.argv[1], sys.argv[2]

    model = onnx.load(model_path)
    try:
        onnx.checker.check_model(model, full_check=True)
        verdict = "ok"
    except onnx.checker.ValidationError as err:
        verdict = str(err)

    raw = np.loadtxt(inputs_path, delimiter=",", skiprows=1, ndmin=2)
    features = np.log1p(np.maximum(raw, 0)).astype(np.float32)

    session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    names = [o.name for o in session.get_outputs()]
    outputs = session.run(names, {input_name: features})

    result = {
        "checker": verdict,
        "onnx_version": onnx.__version__,
        "onnxruntime_version": onnxruntime.__version__,
    }
    for name, value in zip(names, outputs):
        result[name] = value.astype(float).tolist()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
