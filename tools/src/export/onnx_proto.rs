//! A small protobuf writer for the part of ONNX's `onnx.proto` (proto2) that an exported
//! graph needs. Field numbers are those of `onnx/onnx.proto`; repeated scalars are written
//! unpacked, as proto2 does by default (readers accept either form).

/// ONNX's `TensorProto.DataType` values used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// `FLOAT` (f32).
    Float = 1,
    /// `INT8`.
    Int8 = 3,
    /// `INT64`.
    Int64 = 7,
}

/// Protobuf bytes of one message, built field by field.
#[derive(Debug, Default, Clone)]
pub struct Message(Vec<u8>);

const VARINT: u64 = 0;
const LEN: u64 = 2;

impl Message {
    /// An empty message.
    pub fn new() -> Self {
        Self::default()
    }

    /// The encoded bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    fn varint(&mut self, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(byte);
                return;
            }
            self.0.push(byte | 0x80);
        }
    }

    fn key(&mut self, field: u32, wire: u64) {
        self.varint((u64::from(field) << 3) | wire);
    }

    /// An `int64`/`int32`/enum field (negative values as 10-byte two's complement varints).
    pub fn int(&mut self, field: u32, v: i64) -> &mut Self {
        self.key(field, VARINT);
        self.varint(v as u64);
        self
    }

    /// A `bytes` field.
    pub fn bytes(&mut self, field: u32, v: &[u8]) -> &mut Self {
        self.key(field, LEN);
        self.varint(v.len() as u64);
        self.0.extend_from_slice(v);
        self
    }

    /// A `string` field.
    pub fn string(&mut self, field: u32, v: &str) -> &mut Self {
        self.bytes(field, v.as_bytes())
    }

    /// An embedded message field.
    pub fn message(&mut self, field: u32, m: &Message) -> &mut Self {
        self.bytes(field, &m.0)
    }
}

/// `AttributeProto` values.
#[derive(Debug, Clone)]
pub enum Attr {
    /// `INT`.
    Int(i64),
    /// `INTS`.
    Ints(Vec<i64>),
    /// `STRING`.
    Str(&'static str),
}

/// `AttributeProto{name = 1, i = 3, s = 4, ints = 8, type = 20}`.
pub fn attribute(name: &str, value: &Attr) -> Message {
    let mut m = Message::new();
    m.string(1, name);
    match value {
        Attr::Int(i) => {
            m.int(3, *i).int(20, 2);
        }
        Attr::Ints(v) => {
            for i in v {
                m.int(8, *i);
            }
            m.int(20, 7);
        }
        Attr::Str(s) => {
            m.bytes(4, s.as_bytes()).int(20, 3);
        }
    }
    m
}

/// `NodeProto{input = 1, output = 2, name = 3, op_type = 4, attribute = 5}`.
pub fn node(
    op: &str,
    name: &str,
    inputs: &[&str],
    outputs: &[&str],
    attrs: &[(&str, Attr)],
) -> Message {
    let mut m = Message::new();
    for i in inputs {
        m.string(1, i);
    }
    for o in outputs {
        m.string(2, o);
    }
    m.string(3, name).string(4, op);
    for (k, v) in attrs {
        m.message(5, &attribute(k, v));
    }
    m
}

/// `TensorProto{dims = 1, data_type = 2, name = 8, raw_data = 9}` (raw data little-endian).
pub fn tensor(name: &str, dims: &[i64], data_type: DataType, raw: &[u8]) -> Message {
    let mut m = Message::new();
    for d in dims {
        m.int(1, *d);
    }
    m.int(2, data_type as i64).string(8, name).bytes(9, raw);
    m
}

/// One dimension of a value's shape.
#[derive(Debug, Clone)]
pub enum Dim {
    /// `dim_value = 1`.
    Value(i64),
    /// `dim_param = 2`: a named, free dimension (the batch).
    Param(&'static str),
}

/// `ValueInfoProto{name = 1, type = 2}` of a tensor:
/// `TypeProto{tensor_type = 1: Tensor{elem_type = 1, shape = 2: {dim = 1: {..}}}}`.
pub fn value_info(name: &str, elem: DataType, dims: &[Dim]) -> Message {
    let mut shape = Message::new();
    for d in dims {
        let mut dim = Message::new();
        match d {
            Dim::Value(v) => dim.int(1, *v),
            Dim::Param(p) => dim.string(2, p),
        };
        shape.message(1, &dim);
    }
    let mut tensor_type = Message::new();
    tensor_type.int(1, elem as i64).message(2, &shape);
    let mut ty = Message::new();
    ty.message(1, &tensor_type);
    let mut m = Message::new();
    m.string(1, name).message(2, &ty);
    m
}

/// `GraphProto{node = 1, name = 2, initializer = 5, doc_string = 10, input = 11, output = 12}`.
pub struct Graph {
    /// Nodes in topological order.
    pub nodes: Vec<Message>,
    /// Constant tensors.
    pub initializers: Vec<Message>,
    /// Graph inputs.
    pub inputs: Vec<Message>,
    /// Graph outputs.
    pub outputs: Vec<Message>,
}

impl Graph {
    /// Encodes the graph as a `GraphProto`.
    pub fn encode(&self, name: &str, doc: &str) -> Message {
        let mut m = Message::new();
        for n in &self.nodes {
            m.message(1, n);
        }
        m.string(2, name);
        for t in &self.initializers {
            m.message(5, t);
        }
        m.string(10, doc);
        for i in &self.inputs {
            m.message(11, i);
        }
        for o in &self.outputs {
            m.message(12, o);
        }
        m
    }
}

/// `ModelProto{ir_version = 1, producer_name = 2, producer_version = 3, graph = 7,
/// opset_import = 8: {domain = 1, version = 2}}`: IR version 8, the default domain at opset 17.
pub fn model(graph: &Message, producer_version: &str) -> Vec<u8> {
    let mut opset = Message::new();
    opset.string(1, "").int(2, OPSET);
    let mut m = Message::new();
    m.int(1, IR_VERSION)
        .string(2, "plastic")
        .string(3, producer_version)
        .message(7, graph)
        .message(8, &opset);
    m.into_bytes()
}

/// The ONNX IR version written.
pub const IR_VERSION: i64 = 8;
/// The opset of the default domain the graphs use.
pub const OPSET: i64 = 17;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_keys_are_protobuf_s() {
        let mut m = Message::new();
        m.int(1, 150);
        assert_eq!(m.clone().into_bytes(), [0x08, 0x96, 0x01]);
        let mut m = Message::new();
        m.int(2, -1);
        let b = m.into_bytes();
        assert_eq!(b.len(), 11);
        assert_eq!(b[0], 0x10);
        assert_eq!(b[10], 0x01);
        let mut m = Message::new();
        m.string(2, "testing");
        assert_eq!(
            m.into_bytes(),
            [0x12, 0x07, b't', b'e', b's', b't', b'i', b'n', b'g']
        );
    }

    #[test]
    fn attributes_carry_their_type() {
        let a = attribute("axis", &Attr::Int(1)).into_bytes();
        assert_eq!(a, [0x0a, 4, b'a', b'x', b'i', b's', 0x18, 1, 0xa0, 0x01, 2]);
    }
}
