//! A checkpoint as an ONNX graph (opset 17) that computes the runtime's class scores from the
//! pixels `plastic eval` feeds it (docs/FORMAT.md, "ONNX").
//!
//! Input `pixels`: f32 `[batch, channels * height * width]`, the image bytes 0..=255 as
//! floats, planar `[c][y][x]`; the spec's preprocessing is part of the graph. Output `scores`:
//! f32 `[batch, classes]`, the last layer's activations.

use anyhow::bail;
use plastic_models::{
    Activation, Checkpoint, Conv2d, LayerSpec, PaddingMode, PoolKind, Preprocess, Weights,
};

use super::onnx_proto::{self as pb, Attr, DataType, Dim, Graph, Message};

/// How int8 layers become ONNX.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Int8Mode {
    /// The runtime's int8 arithmetic in f32 operators: each activation vector (each receptive
    /// field of a convolution) quantized with its own scale, rounded halves away from zero,
    /// integer products summed exactly, then `(acc * s_w) * s_x + b`; the int8 weights are
    /// stored as INT8 tensors.
    Exact,
    /// Plain f32 layers with the dequantized weights `q * s_w`: the weights' rounding is kept,
    /// the activations' is not (any ONNX runtime's f32 or FP16 path takes it).
    Dequantize,
}

/// Name of the graph's input.
pub const INPUT: &str = "pixels";
/// Name of the graph's output.
pub const OUTPUT: &str = "scores";

struct Builder {
    nodes: Vec<Message>,
    initializers: Vec<Message>,
    count: usize,
}

impl Builder {
    fn fresh(&mut self, hint: &str) -> String {
        self.count += 1;
        format!("{hint}_{}", self.count)
    }

    /// Adds node `op` and returns its output's name.
    fn op(&mut self, op: &str, inputs: &[&str], attrs: &[(&str, Attr)]) -> String {
        let out = self.fresh(&op.to_ascii_lowercase());
        self.nodes.push(pb::node(
            op,
            &format!("{op}_{}", self.count),
            inputs,
            &[&out],
            attrs,
        ));
        out
    }

    fn f32s(&mut self, hint: &str, dims: &[i64], data: &[f32]) -> String {
        let name = self.fresh(hint);
        let raw: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers
            .push(pb::tensor(&name, dims, DataType::Float, &raw));
        name
    }

    fn scalar(&mut self, v: f32) -> String {
        self.f32s("const", &[], &[v])
    }

    fn i64s(&mut self, hint: &str, data: &[i64]) -> String {
        let name = self.fresh(hint);
        let raw: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(pb::tensor(
            &name,
            &[data.len() as i64],
            DataType::Int64,
            &raw,
        ));
        name
    }

    fn i8s(&mut self, hint: &str, dims: &[i64], data: &[i8]) -> String {
        let name = self.fresh(hint);
        let raw: Vec<u8> = data.iter().map(|&v| v as u8).collect();
        self.initializers
            .push(pb::tensor(&name, dims, DataType::Int8, &raw));
        name
    }

    fn bin(&mut self, op: &str, a: &str, b: &str) -> String {
        self.op(op, &[a, b], &[])
    }

    fn un(&mut self, op: &str, a: &str) -> String {
        self.op(op, &[a], &[])
    }

    fn reduce(&mut self, op: &str, x: &str) -> String {
        self.op(
            op,
            &[x],
            &[("axes", Attr::Ints(vec![1])), ("keepdims", Attr::Int(1))],
        )
    }

    /// `1 / v`, or any finite value where `v = 0` (the callers multiply it by zeros there).
    fn guarded_reciprocal(&mut self, v: &str) -> String {
        let tiny = self.scalar(f32::MIN_POSITIVE);
        let one = self.scalar(1.0);
        let safe = self.bin("Max", v, &tiny);
        self.bin("Div", &one, &safe)
    }

    /// `x * (1 / ‖x‖₂)` along axis 1, zeros for a zero row.
    fn unit_rows(&mut self, x: &str) -> String {
        let norm = self.reduce("ReduceL2", x);
        let inv = self.guarded_reciprocal(&norm);
        self.bin("Mul", x, &inv)
    }

    /// C's `roundf` (halves away from zero), exactly: `sign(v) (f + (|v| - f >= 0.5))` with
    /// `f = floor(|v|)`.
    fn round_away(&mut self, v: &str) -> String {
        let a = self.un("Abs", v);
        let f = self.un("Floor", &a);
        let frac = self.bin("Sub", &a, &f);
        let half = self.scalar(0.5);
        let up = self.bin("GreaterOrEqual", &frac, &half);
        let up = self.op("Cast", &[&up], &[("to", Attr::Int(DataType::Float as i64))]);
        let r = self.bin("Add", &f, &up);
        let s = self.un("Sign", v);
        self.bin("Mul", &s, &r)
    }

    /// The runtime's quantization of the vectors along axis 1 of `x`: `(q, s)`, `q` the
    /// integers as f32, `s` the scales with axis 1 kept (size 1).
    fn quantize(&mut self, x: &str) -> (String, String) {
        let a = self.un("Abs", x);
        let m = self.reduce("ReduceMax", &a);
        let c127 = self.scalar(127.0);
        let s = self.bin("Div", &m, &c127);
        let inv = self.guarded_reciprocal(&s);
        let v = self.bin("Mul", x, &inv);
        let r = self.round_away(&v);
        let lo = self.scalar(-127.0);
        let q = self.op("Clip", &[&r, &lo, &c127], &[]);
        (q, s)
    }

    /// `x^n` for `x >= 0` as the runtime computes it: by squaring (and one square root for a
    /// half number) when `2n` is whole and `0 <= n <= 64`, `Pow` otherwise.
    fn power(&mut self, x: &str, n: f32) -> String {
        let twice = n * 2.0;
        if !(twice == twice.round() && (0.0..=64.0).contains(&n)) {
            let e = self.scalar(n);
            return self.bin("Pow", x, &e);
        }
        let (mut e, half) = (n as u32, (twice as u32) % 2 == 1);
        let mut r: Option<String> = None;
        let mut base = x.to_string();
        while e > 0 {
            if e & 1 == 1 {
                r = Some(match r {
                    None => base.clone(),
                    Some(r) => self.bin("Mul", &r, &base),
                });
            }
            e >>= 1;
            if e > 0 {
                base = self.bin("Mul", &base, &base);
            }
        }
        let r = match r {
            Some(r) => r,
            None => {
                // x^0 = 1 for every entry.
                let zero = self.scalar(0.0);
                let one = self.scalar(1.0);
                let z = self.bin("Mul", x, &zero);
                self.bin("Add", &z, &one)
            }
        };
        if half {
            let root = self.un("Sqrt", x);
            self.bin("Mul", &r, &root)
        } else {
            r
        }
    }

    fn activate(&mut self, z: &str, activation: &Activation) -> String {
        match *activation {
            Activation::Identity => z.to_string(),
            Activation::Relu => self.un("Relu", z),
            Activation::Tanh { beta } => {
                let b = self.scalar(beta);
                let bz = self.bin("Mul", &b, z);
                self.un("Tanh", &bz)
            }
            // A convolution's, applied before its pooling by `Builder::conv` (a spec declares
            // the triangle on convolutions only).
            Activation::Triangle { .. } => z.to_string(),
            Activation::RectifiedPower { n } => {
                let r = self.un("Relu", z);
                let m = self.reduce("ReduceMax", &r);
                let inv = self.guarded_reciprocal(&m);
                let y = self.bin("Mul", &r, &inv);
                self.power(&y, n)
            }
        }
    }

    fn preprocess(&mut self, x: &str, pre: &Preprocess, channels: usize, len: usize) -> String {
        match pre {
            Preprocess::Scale01 => {
                let c = self.scalar(255.0);
                self.bin("Div", x, &c)
            }
            Preprocess::UnitNorm => self.unit_rows(x),
            Preprocess::CentredUnitNorm => {
                // The sum of whole pixel values is exact in any order.
                let mean = self.mean(x, len);
                let d = self.bin("Sub", x, &mean);
                self.unit_rows(&d)
            }
            Preprocess::MeanStd { mean, std } => {
                let per = len / channels;
                let expand = |v: &[f32]| -> Vec<f32> {
                    v.iter()
                        .flat_map(|&m| std::iter::repeat_n(m, per))
                        .collect()
                };
                let c = self.scalar(255.0);
                let x01 = self.bin("Div", x, &c);
                let m = self.f32s("mean", &[1, len as i64], &expand(mean));
                let s = self.f32s("std", &[1, len as i64], &expand(std));
                let d = self.bin("Sub", &x01, &m);
                self.bin("Div", &d, &s)
            }
        }
    }

    /// `z = W h + b` of a dense layer.
    fn dense(
        &mut self,
        h: &str,
        spec: &LayerSpec,
        w: &Weights,
        bias: Option<&[f32]>,
        mode: Int8Mode,
    ) -> String {
        let dims = [spec.outputs as i64, spec.inputs as i64];
        let b = bias.map(|b| self.f32s("bias", &[spec.outputs as i64], b));
        let gemm = |s: &mut Self, x: &str, w: &str| {
            let mut inputs = vec![x, w];
            if let Some(b) = &b {
                inputs.push(b);
            }
            s.op("Gemm", &inputs, &[("transB", Attr::Int(1))])
        };
        match (w, mode) {
            (Weights::F32(w), _) => {
                let w = self.f32s("weight", &dims, w);
                gemm(self, h, &w)
            }
            (Weights::Int8 { q, scale }, Int8Mode::Dequantize) => {
                let w = dequantize(q, scale, spec.inputs);
                let w = self.f32s("weight", &dims, &w);
                gemm(self, h, &w)
            }
            (Weights::Int8 { q, scale }, Int8Mode::Exact) => {
                let (qx, sx) = self.quantize(h);
                let wq = self.i8s("weight_q", &dims, q);
                let wf = self.op("Cast", &[&wq], &[("to", Attr::Int(DataType::Float as i64))]);
                let acc = self.op("Gemm", &[&qx, &wf], &[("transB", Attr::Int(1))]);
                let sw = self.f32s("weight_scale", &[1, spec.outputs as i64], scale);
                let z = self.bin("Mul", &acc, &sw);
                let z = self.bin("Mul", &z, &sx);
                match &b {
                    Some(b) => self.bin("Add", &z, b),
                    None => z,
                }
            }
        }
    }

    /// The mean of `x` over axis 1 (of `n` values, kept as a dimension) as the runtime takes
    /// it, `sum / n` (ReduceMean may multiply by `1 / n` instead).
    fn mean(&mut self, x: &str, n: usize) -> String {
        let axes = self.i64s("axes", &[1]);
        let sum = self.op("ReduceSum", &[x, &axes], &[("keepdims", Attr::Int(1))]);
        let n = self.scalar(n as f32);
        self.bin("Div", &sum, &n)
    }

    /// SoftHebb's triangle over the `channels` of `z` (`[N, C, H, W]`) at each position:
    /// `max(z - mean, 0) ^ power`.
    fn triangle(&mut self, z: &str, channels: usize, power: f32) -> String {
        let mean = self.mean(z, channels);
        let centred = self.bin("Sub", z, &mean);
        let r = self.un("Relu", &centred);
        self.power(&r, power)
    }

    /// `x` (`[N, C, H, W]`) padded by `p` on each side of its height and width, by `mode`
    /// (`constant`: zeros; `reflect`: mirrored at the edge, the edge not repeated, as the
    /// runtime reads a reflected padding).
    fn pad(&mut self, x: &str, p: i64, mode: &'static str) -> String {
        let pads = self.i64s("pads", &[0, 0, p, p, 0, 0, p, p]);
        self.op("Pad", &[x, &pads], &[("mode", Attr::Str(mode))])
    }

    /// `pool(activation(conv(x, W) + b))` of a convolution, flattened `[c][y][x]`: the
    /// activation is applied here, before the pooling, for a triangle (SoftHebb's blocks), and
    /// after the layer by the caller otherwise.
    fn conv(
        &mut self,
        h: &str,
        spec: &LayerSpec,
        c: &Conv2d,
        w: &Weights,
        bias: Option<&[f32]>,
        mode: Int8Mode,
    ) -> String {
        let k = c.kernel as i64;
        let shape = self.i64s(
            "shape",
            &[-1, c.in_channels as i64, c.height as i64, c.width as i64],
        );
        let x = self.op("Reshape", &[h, &shape], &[]);
        // A reflected padding is its own node; the convolution then pads nothing.
        let (x, p) = match c.padding_mode {
            PaddingMode::Reflect if c.padding > 0 => (self.pad(&x, c.padding as i64, "reflect"), 0),
            _ => (x, c.padding as i64),
        };
        let out = c.out_channels as i64;
        let conv_attrs = |k: i64, p: i64| {
            vec![
                ("kernel_shape", Attr::Ints(vec![k, k])),
                ("pads", Attr::Ints(vec![p, p, p, p])),
            ]
        };
        let dims = [out, c.in_channels as i64, k, k];
        let b = bias.map(|b| self.f32s("bias", &[out], b));
        let plain = |s: &mut Self, w: &str| {
            let mut inputs = vec![x.as_str(), w];
            if let Some(b) = &b {
                inputs.push(b);
            }
            s.op("Conv", &inputs, &conv_attrs(k, p))
        };
        let z = match (w, mode) {
            (Weights::F32(w), _) => {
                let w = self.f32s("weight", &dims, w);
                plain(self, &w)
            }
            (Weights::Int8 { q, scale }, Int8Mode::Dequantize) => {
                let w = dequantize(q, scale, c.patch_len());
                let w = self.f32s("weight", &dims, &w);
                plain(self, &w)
            }
            (Weights::Int8 { q, scale }, Int8Mode::Exact) => {
                // Receptive fields as channels (an identity convolution: exact), each quantized
                // on its own, then a 1x1 convolution with the int8 rows.
                let patch = c.patch_len();
                let mut eye = vec![0.0f32; patch * patch];
                for i in 0..patch {
                    eye[i * patch + i] = 1.0;
                }
                let eye = self.f32s("patches", &[patch as i64, c.in_channels as i64, k, k], &eye);
                let cols = self.op("Conv", &[&x, &eye], &conv_attrs(k, p));
                let (qx, sx) = self.quantize(&cols);
                let wq = self.i8s("weight_q", &[out, patch as i64, 1, 1], q);
                let wf = self.op("Cast", &[&wq], &[("to", Attr::Int(DataType::Float as i64))]);
                let acc = self.op("Conv", &[&qx, &wf], &conv_attrs(1, 0));
                let sw = self.f32s("weight_scale", &[1, out, 1, 1], scale);
                let z = self.bin("Mul", &acc, &sw);
                let z = self.bin("Mul", &z, &sx);
                match &b {
                    Some(b) => {
                        let b4 = self.i64s("shape", &[1, out, 1, 1]);
                        let b4 = self.op("Reshape", &[b, &b4], &[]);
                        self.bin("Add", &z, &b4)
                    }
                    None => z,
                }
            }
        };
        let z = match spec.activation {
            Activation::Triangle { power } => self.triangle(&z, c.out_channels, power),
            _ => z,
        };
        let z = if c.pool > 1 || c.pool_step() > 1 || c.pool_padding > 0 {
            // The runtime pools over the output padded with zeros (not ignored cells).
            let z = match c.pool_padding {
                0 => z,
                pad => self.pad(&z, pad as i64, "constant"),
            };
            let (pool, step) = (c.pool.max(1) as i64, c.pool_step() as i64);
            let op = match c.pool_kind {
                PoolKind::Avg => "AveragePool",
                PoolKind::Max => "MaxPool",
            };
            self.op(
                op,
                &[&z],
                &[
                    ("kernel_shape", Attr::Ints(vec![pool, pool])),
                    ("strides", Attr::Ints(vec![step, step])),
                ],
            )
        } else {
            z
        };
        self.op("Flatten", &[&z], &[("axis", Attr::Int(1))])
    }
}

fn dequantize(q: &[i8], scale: &[f32], cols: usize) -> Vec<f32> {
    q.chunks_exact(cols)
        .zip(scale)
        .flat_map(|(row, &s)| row.iter().map(move |&v| f32::from(v) * s))
        .collect()
}

/// The ONNX model (serialized `ModelProto`) of `ckpt`.
pub fn export(ckpt: &Checkpoint, mode: Int8Mode) -> anyhow::Result<Vec<u8>> {
    let spec = &ckpt.spec;
    if spec.layers.is_empty() {
        bail!("the model has no layers");
    }
    let mut b = Builder {
        nodes: Vec::new(),
        initializers: Vec::new(),
        count: 0,
    };
    let len = spec.input.len();
    let mut h = b.preprocess(INPUT, &spec.input.preprocess, spec.input.channels, len);
    for (layer, t) in spec.layers.iter().zip(&ckpt.layers) {
        let z = match &layer.conv {
            None => b.dense(&h, layer, &t.weight, t.bias.as_deref(), mode),
            // A triangle is applied there, before the pooling; `activate` passes it through.
            Some(c) => b.conv(&h, layer, c, &t.weight, t.bias.as_deref(), mode),
        };
        h = b.activate(&z, &layer.activation);
    }
    b.nodes
        .push(pb::node("Identity", "output", &[&h], &[OUTPUT], &[]));
    let graph = Graph {
        nodes: b.nodes,
        initializers: b.initializers,
        inputs: vec![pb::value_info(
            INPUT,
            DataType::Float,
            &[Dim::Param("batch"), Dim::Value(len as i64)],
        )],
        outputs: vec![pb::value_info(
            OUTPUT,
            DataType::Float,
            &[Dim::Param("batch"), Dim::Value(spec.output_len() as i64)],
        )],
    };
    let doc = format!(
        "plastic/1 model `{}`: pixels (0..255 as f32, planar [c][y][x], {}x{}x{}) to class scores{}",
        spec.name,
        spec.input.channels,
        spec.input.height,
        spec.input.width,
        if spec.classes.is_empty() {
            String::new()
        } else {
            format!(" ({})", spec.classes.join(", "))
        }
    );
    let graph = graph.encode(&spec.name, &doc);
    Ok(pb::model(&graph, env!("CARGO_PKG_VERSION")))
}
