//! Spans, with their resources, in batches of one tenant.
//!
//! A [`SpanBatch`] holds the resources of the service instances that produced its spans once,
//! and each [`Span`] points at its resource by index, as OTLP groups spans by resource.

use std::borrow::Cow;
use std::sync::Arc;

use super::{SpanId, TenantId, TraceId};

/// An attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum AttributeValue {
    /// A string.
    String(Cow<'static, str>),
    /// A 64-bit integer.
    Int(i64),
    /// A double.
    Double(f64),
    /// A boolean.
    Bool(bool),
}

impl From<&'static str> for AttributeValue {
    fn from(value: &'static str) -> Self {
        AttributeValue::String(Cow::Borrowed(value))
    }
}

impl From<String> for AttributeValue {
    fn from(value: String) -> Self {
        AttributeValue::String(Cow::Owned(value))
    }
}

impl From<Cow<'static, str>> for AttributeValue {
    fn from(value: Cow<'static, str>) -> Self {
        AttributeValue::String(value)
    }
}

impl From<i64> for AttributeValue {
    fn from(value: i64) -> Self {
        AttributeValue::Int(value)
    }
}

impl From<f64> for AttributeValue {
    fn from(value: f64) -> Self {
        AttributeValue::Double(value)
    }
}

impl From<bool> for AttributeValue {
    fn from(value: bool) -> Self {
        AttributeValue::Bool(value)
    }
}

/// A key and its value; keys are unique within one attribute list.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyValue {
    /// Attribute name (`http.request.method`).
    pub key: Cow<'static, str>,
    /// Its value.
    pub value: AttributeValue,
}

impl KeyValue {
    /// A pair.
    pub fn new(key: impl Into<Cow<'static, str>>, value: impl Into<AttributeValue>) -> Self {
        KeyValue {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// The entity that produced telemetry: `service.name`, `service.instance.id`, `k8s.*`, ….
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Resource {
    /// Resource attributes.
    pub attributes: Vec<KeyValue>,
}

impl Resource {
    /// The string value of an attribute.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| match &kv.value {
                AttributeValue::String(text) => Some(text.as_ref()),
                _ => None,
            })
    }
}

/// OTLP span kinds (never 0, UNSPECIFIED).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpanKind {
    /// Internal operation.
    Internal = 1,
    /// Handles a remote request.
    Server = 2,
    /// Makes a remote request.
    Client = 3,
    /// Sends a message.
    Producer = 4,
    /// Receives a message.
    Consumer = 5,
}

/// OTLP status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusCode {
    /// Not set.
    Unset = 0,
    /// Explicitly successful.
    Ok = 1,
    /// Failed.
    Error = 2,
}

/// A timestamped event inside a span (an exception, a retry, a cache miss).
#[derive(Clone, Debug, PartialEq)]
pub struct SpanEvent {
    /// Unix nanoseconds.
    pub time_ns: i64,
    /// Event name (`exception`).
    pub name: Cow<'static, str>,
    /// Its attributes.
    pub attributes: Vec<KeyValue>,
}

/// A link to another span (batch consumers to producers, follow-ups to requests).
#[derive(Clone, Debug, PartialEq)]
pub struct SpanLink {
    /// Trace of the linked span.
    pub trace_id: TraceId,
    /// The linked span.
    pub span_id: SpanId,
    /// Link attributes.
    pub attributes: Vec<KeyValue>,
}

/// One span.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    /// Index of the span's resource in [`SpanBatch::resources`].
    pub resource: u32,
    /// 16 bytes, never all zero.
    pub trace_id: TraceId,
    /// 8 bytes, never all zero, unique within the trace.
    pub span_id: SpanId,
    /// The parent, `None` for a root.
    pub parent_span_id: Option<SpanId>,
    /// Low-cardinality name (`GET /api/cart/{id}`).
    pub name: Cow<'static, str>,
    /// Kind.
    pub kind: SpanKind,
    /// Start, Unix nanoseconds.
    pub start_ns: i64,
    /// End, Unix nanoseconds, not before the start.
    pub end_ns: i64,
    /// Status.
    pub status: StatusCode,
    /// Status message, only with [`StatusCode::Error`].
    pub status_message: Option<String>,
    /// Attributes.
    pub attributes: Vec<KeyValue>,
    /// Events.
    pub events: Vec<SpanEvent>,
    /// Links.
    pub links: Vec<SpanLink>,
    /// W3C trace flags in the low byte (0x01 sampled).
    pub flags: u32,
}

/// Spans of one tenant with their resources.
#[derive(Clone, Debug, Default)]
pub struct SpanBatch {
    /// The tenant every span belongs to.
    pub tenant: TenantId,
    /// Resources referenced by the spans.
    pub resources: Vec<Arc<Resource>>,
    /// The spans.
    pub spans: Vec<Span>,
}

impl SpanBatch {
    /// An empty batch for `tenant`.
    pub fn new(tenant: TenantId) -> Self {
        SpanBatch {
            tenant,
            ..SpanBatch::default()
        }
    }

    /// Index of `resource` in the batch, adding it when new.
    pub fn resource_index(&mut self, resource: &Arc<Resource>) -> u32 {
        if let Some(i) = self.resources.iter().position(|r| Arc::ptr_eq(r, resource)) {
            return i as u32;
        }
        self.resources.push(Arc::clone(resource));
        (self.resources.len() - 1) as u32
    }

    /// The resource of a span.
    pub fn resource_of(&self, span: &Span) -> &Resource {
        &self.resources[span.resource as usize]
    }
}
